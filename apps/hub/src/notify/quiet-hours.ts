import type { QuietHours } from "@kensa/contracts";

/** Minutes since local midnight of `at` in `timeZone`. */
function localMinutes(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .formatToParts(at)
    .reduce<Record<string, string>>((acc, p) => {
      acc[p.type] = p.value;
      return acc;
    }, {});
  return Number(parts.hour) * 60 + Number(parts.minute);
}

const hhmm = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

/**
 * When the quiet window `now` falls in ends (ISO), or null outside it. The end is counted in
 * local minutes from now, so a DST change inside the window moves it by that hour at most.
 */
export function quietUntil(now: string, quiet: QuietHours): string | null {
  const at = new Date(now);
  const cur = localMinutes(at, quiet.timeZone);
  const start = hhmm(quiet.start);
  const end = hhmm(quiet.end);
  const inside = start < end ? cur >= start && cur < end : cur >= start || cur < end;
  if (!inside) return null;
  const minutes = (end - cur + 1440) % 1440;
  // to the start of the end minute: seconds already past in this minute are taken off
  const ms = minutes * 60_000 - (at.getUTCSeconds() * 1000 + at.getUTCMilliseconds());
  return new Date(at.getTime() + ms).toISOString();
}
