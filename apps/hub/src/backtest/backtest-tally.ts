import type { BacktestCounts, BacktestFrame, BacktestGroup, BacktestSkipped } from "@kensa/contracts";

/** Counts with every figure at zero. */
export function emptyCounts(): BacktestCounts {
  return {
    frames: 0,
    skipped: 0,
    judged: 0,
    champion: { decided: 0, incidents: 0, falseAlarms: 0, misses: 0 },
    candidate: { incidents: 0, falseAlarms: 0, misses: 0 },
    incidents: { added: 0, removed: 0 },
    falseAlarms: { added: 0, removed: 0 },
    misses: { added: 0, removed: 0 },
  };
}

/**
 * Adds one replayed frame. A false alarm is an incident on a frame a person said shows nothing;
 * a miss is no incident on a frame a person said shows a finding. Changes (added, removed) are
 * counted only where the champion's decision is recorded, so a capture never makes one up.
 */
export function addFrame(c: BacktestCounts, f: BacktestFrame): void {
  c.frames++;
  const cand = f.candidate.incident;
  const champ = f.champion?.incident;
  if (cand) c.candidate.incidents++;
  if (champ !== undefined) {
    c.champion.decided++;
    if (champ) c.champion.incidents++;
    if (cand && !champ) c.incidents.added++;
    if (champ && !cand) c.incidents.removed++;
  }
  if (!f.truth) return;
  c.judged++;
  const candFalse = cand && !f.truth.finding;
  const candMiss = !cand && f.truth.finding;
  if (candFalse) c.candidate.falseAlarms++;
  if (candMiss) c.candidate.misses++;
  if (champ === undefined) return;
  const champFalse = champ && !f.truth.finding;
  const champMiss = !champ && f.truth.finding;
  if (champFalse) c.champion.falseAlarms++;
  if (champMiss) c.champion.misses++;
  if (candFalse && !champFalse) c.falseAlarms.added++;
  if (champFalse && !candFalse) c.falseAlarms.removed++;
  if (candMiss && !champMiss) c.misses.added++;
  if (champMiss && !candMiss) c.misses.removed++;
}

/** Totals, per UTC day and per device (sorted by key), skipped frames included. */
export function tally(
  frames: readonly BacktestFrame[],
  skipped: readonly BacktestSkipped[],
): { totals: BacktestCounts; perDay: BacktestGroup[]; perDevice: BacktestGroup[] } {
  const totals = emptyCounts();
  const days = new Map<string, BacktestCounts>();
  const devices = new Map<string, BacktestCounts>();
  const group = (m: Map<string, BacktestCounts>, key: string) => {
    const c = m.get(key) ?? emptyCounts();
    m.set(key, c);
    return c;
  };
  for (const f of frames) {
    addFrame(totals, f);
    addFrame(group(days, f.day), f);
    addFrame(group(devices, f.deviceId ?? "(none)"), f);
  }
  for (const s of skipped) {
    totals.skipped++;
    group(days, s.ts.slice(0, 10)).skipped++;
    group(devices, s.deviceId ?? "(none)").skipped++;
  }
  const sorted = (m: Map<string, BacktestCounts>): BacktestGroup[] =>
    [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, c]) => ({ key, ...c }));
  return { totals, perDay: sorted(days), perDevice: sorted(devices) };
}
