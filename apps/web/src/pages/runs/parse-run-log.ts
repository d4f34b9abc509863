import type { TrainerProgress } from "@kensa/contracts";

/** One finished epoch as the trainer reported it (an `epoch` progress line). */
export interface EpochPoint {
  epoch: number;
  loss: number;
  valLoss: number;
  valMetric: number;
  lr: number;
  best: boolean;
}

export interface ParsedLog {
  epochs: EpochPoint[];
  /** training loss per optimizer step: the live curve within an epoch */
  steps: Array<{ step: number; loss: number }>;
  primaryMetric: string | null;
  stepsPerEpoch: number | null;
}

function asProgress(line: string): TrainerProgress | null {
  if (!line.startsWith("{")) return null;
  try {
    const v = JSON.parse(line) as Partial<TrainerProgress> | null;
    return v && typeof v === "object" && typeof v.type === "string" ? (v as TrainerProgress) : null;
  } catch {
    return null;
  }
}

/**
 * Reads the curves out of a run's log. The hub keeps the trainer's stdout verbatim, and the
 * trainer contract makes every progress report a JSON line, so the log is the complete history
 * (the run record holds only the latest progress). Lines that are not progress are skipped.
 */
export function parseRunLog(text: string): ParsedLog {
  const out: ParsedLog = { epochs: [], steps: [], primaryMetric: null, stepsPerEpoch: null };
  for (const raw of text.split("\n")) {
    const l = asProgress(raw.trim());
    if (!l) continue;
    if (l.type === "start") out.stepsPerEpoch = l.stepsPerEpoch;
    else if (l.type === "step") out.steps.push({ step: l.step, loss: l.loss });
    else if (l.type === "epoch") {
      out.primaryMetric = l.primaryMetric;
      out.epochs.push({
        epoch: l.epoch,
        loss: l.loss,
        valLoss: l.valLoss,
        valMetric: l.valMetric,
        lr: l.lr,
        best: l.best,
      });
    } else if (l.type === "done") out.primaryMetric = l.primaryMetric;
  }
  return out;
}

/** Whether a log line is a machine progress line (hidden by default in the log view). */
export function isProgressLine(line: string): boolean {
  const l = asProgress(line.trim());
  return l !== null && (l.type === "step" || l.type === "epoch" || l.type === "start" || l.type === "done");
}
