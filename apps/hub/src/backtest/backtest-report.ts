import {
  BACKTEST_MAX_LIMIT,
  type BacktestBounds,
  type BacktestReport,
  isKensaError,
  type Rule,
} from "@kensa/contracts";
import type { FrameWindow } from "./backtest-frames.js";
import type { ReplayResult } from "./backtest-replay.js";
import { tally } from "./backtest-tally.js";

/** Which frames a backtest looked at, as its report states them. */
export function backtestBounds(window: FrameWindow, inWindow: number, replayed: number): BacktestBounds {
  return {
    since: window.since,
    until: window.until,
    limit: window.limit,
    maxLimit: BACKTEST_MAX_LIMIT,
    deviceIds: window.deviceIds ? [...window.deviceIds] : null,
    captures: window.captures,
    inWindow,
    truncated: inWindow > replayed,
  };
}

/**
 * The report of a replay: the same function on the hub and on `kensa worker`, so a backtest
 * reports the same figures wherever it ran.
 */
export function backtestReport(o: {
  bounds: BacktestBounds;
  rules: readonly Rule[];
  projectChampionId: string | null;
  replay: ReplayResult;
}): BacktestReport {
  const { replay } = o;
  const skippedByReason: Record<string, number> = {};
  for (const s of replay.skipped) skippedByReason[s.reason] = (skippedByReason[s.reason] ?? 0) + 1;
  const championModelIds = [
    ...new Set(replay.frames.flatMap((f) => (f.champion ? [f.champion.modelVersionId] : []))),
  ].sort();
  return {
    bounds: o.bounds,
    rules: [...o.rules],
    championModelIds,
    projectChampionId: o.projectChampionId,
    ...tally(replay.frames, replay.skipped),
    skipped: replay.skipped,
    skippedByReason,
    durationMs: Math.round(replay.durationMs),
    framesPerSecond: replay.durationMs > 0 ? (replay.frames.length * 1000) / replay.durationMs : 0,
  };
}

/** A thrown error as a failed backtest stores it: a coded error as is, else KENSA_ERR_BACKTEST_FAILED. */
export function backtestError(err: unknown): { code: string; message: string } {
  return isKensaError(err)
    ? { code: err.code, message: err.message }
    : { code: "KENSA_ERR_BACKTEST_FAILED", message: (err as Error)?.message ?? String(err) };
}
