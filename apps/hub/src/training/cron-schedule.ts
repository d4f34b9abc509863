import { KensaError } from "@kensa/contracts";
import { Cron } from "croner";

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day-of-week", min: 0, max: 7 },
] as const;

/**
 * A 5-field cron expression (minute hour day-of-month month day-of-week) evaluated in UTC by
 * croner, with `*`, lists, ranges and `/steps`; day-of-week 0 and 7 are Sunday. As in Vixie
 * cron, when both day fields are restricted a day matches if either does. Croner accepts more
 * (seconds, names, `L`, `W`, `#`, `?`, `@daily`); settings keep to the portable subset, so an
 * expression means the same in any cron.
 */
export class CronSchedule {
  readonly expression: string;
  #cron: Cron;

  private constructor(expression: string, cron: Cron) {
    this.expression = expression;
    this.#cron = cron;
  }

  /** throws KENSA_ERR_CRON_INVALID naming the field */
  static parse(expression: string): CronSchedule {
    const parts = expression.trim().split(/\s+/);
    if (parts.length !== 5) {
      throw new KensaError(
        "KENSA_ERR_CRON_INVALID",
        `cron "${expression}" has ${parts.length} fields; expected 5 (minute hour day-of-month month day-of-week)`,
      );
    }
    const pattern = parts.map((text, i) =>
      text
        .split(",")
        .map((item) => asVixie(item, i, expression))
        .join(","),
    );
    try {
      const cron = utc(pattern.join(" "));
      // a pattern croner parses but cannot run (it recurses without end) is refused here,
      // not on the scheduler's next tick
      cron.nextRun(new Date(0));
      return new CronSchedule(expression, cron);
    } catch (err) {
      throw new KensaError(
        "KENSA_ERR_CRON_INVALID",
        `cron "${expression}": ${(err as Error).message.replace(/^CronPattern: /, "")}`,
      );
    }
  }

  /** whether the minute containing `t` matches */
  matches(t: Date): boolean {
    const minute = Math.floor(t.getTime() / 60_000) * 60_000;
    return this.firstMatch(new Date(minute - 60_000), new Date(minute))?.getTime() === minute;
  }

  /** the first matching minute start in (after, until], or null; the minute of `after` is not looked at */
  firstMatch(after: Date, until: Date): Date | null {
    // croner's next run is strictly after the second it is given; its minute field is whole
    // minutes here, so from the last second of `after`'s minute it is the next matching minute
    const from = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 59_000);
    const next = this.#cron.nextRun(from);
    return next && next.getTime() <= until.getTime() ? next : null;
  }
}

function utc(pattern: string): Cron {
  // no callback: croner computes runs and never starts a timer
  return new Cron(pattern, { timezone: "UTC", legacyMode: true });
}

/**
 * Checks one list item against its field and spells it the way croner reads it as Vixie cron
 * does. Bounds are checked here because croner lets a stepped range run past the field
 * (`4-32/3`, `24/2`); an open step `a/s` is written out to the field's end because croner ends
 * day-of-week at 6 (`6/1` would lose Sunday-as-7, `7/1` would never match); a step longer than
 * its range keeps only its start, where croner refuses a step longer than the field.
 */
function asVixie(item: string, field: number, expression: string): string {
  const f = FIELDS[field]!;
  const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
  if (!m) throw invalid(expression, field, `is not *, a number, a range or a step (${f.min}-${f.max})`);
  const lo = m[1] === "*" ? f.min : Number(m[2]);
  const hi = m[1] === "*" ? f.max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? f.max : lo;
  if (lo < f.min || hi > f.max || lo > hi) throw invalid(expression, field, `is outside ${f.min}-${f.max}`);
  if (m[4] === undefined) return item;
  const step = Number(m[4]);
  if (step < 1) throw invalid(expression, field, "has a step below 1");
  return step > hi - lo ? String(lo) : `${lo}-${hi}/${step}`;
}

function invalid(expression: string, field: number, why: string): KensaError {
  const text = expression.trim().split(/\s+/)[field];
  return new KensaError(
    "KENSA_ERR_CRON_INVALID",
    `cron "${expression}": ${FIELDS[field]!.name} field "${text}" ${why}`,
  );
}
