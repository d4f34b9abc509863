import {
  DRIFT_BINS,
  DRIFT_MIN_FRAMES,
  DRIFT_MIN_REFERENCE,
  type DriftGroup,
  type DriftStatistic,
  type DriftStatisticName,
  type DriftStatus,
  driftBand,
  populationStabilityIndex,
  psiNoise,
} from "@kensa/contracts";
import type { StoredDriftReference } from "../registry/evaluation/drift-reference.js";
import type { FieldHistograms } from "./drift-store.js";

/**
 * One statistic's comparison: PSI and its band only with enough counts on both sides (a PSI of
 * a handful of frames is sampling noise, not drift); the histograms are always given.
 */
export function compareHistograms(
  statistic: DriftStatisticName,
  label: string | null,
  reference: number[] | null,
  field: number[],
): DriftStatistic {
  const nField = field.reduce((a, b) => a + b, 0);
  const nRef = reference ? reference.reduce((a, b) => a + b, 0) : 0;
  let status: DriftStatus = "ok";
  if (!reference) status = "no-reference";
  else if (nRef < DRIFT_MIN_REFERENCE) status = "few-reference";
  else if (nField < DRIFT_MIN_FRAMES) status = "few-frames";
  const psi = status === "ok" && reference ? populationStabilityIndex(reference, field) : null;
  return {
    statistic,
    label,
    status,
    psi,
    band: psi === null ? null : driftBand(psi),
    noise: reference && status === "ok" ? psiNoise(reference, field) : null,
    reference: reference ? [...reference] : null,
    field: [...field],
  };
}

/** The histograms of several devices added up (the whole fleet). */
export function poolDevices(devices: readonly FieldHistograms[]): FieldHistograms {
  const sum = (a: number[], b: number[]) => a.map((x, i) => x + (b[i] ?? 0));
  const zero = () => new Array<number>(DRIFT_BINS).fill(0);
  const all: FieldHistograms = {
    deviceId: "",
    frames: 0,
    framesWithInput: 0,
    luma: zero(),
    contrast: zero(),
    score: zero(),
    scoreByLabel: new Map(),
  };
  for (const d of devices) {
    all.frames += d.frames;
    all.framesWithInput += d.framesWithInput;
    all.luma = sum(all.luma, d.luma);
    all.contrast = sum(all.contrast, d.contrast);
    all.score = sum(all.score, d.score);
    for (const [label, h] of d.scoreByLabel) all.scoreByLabel.set(label, sum(all.scoreByLabel.get(label) ?? zero(), h));
  }
  return all;
}

/**
 * A group's statistics: luma, contrast, the score of every headline label pooled, then the score
 * per headline label seen in the field or in the reference (labels alphabetically).
 */
export function driftGroup(
  deviceId: string | null,
  field: FieldHistograms,
  reference: StoredDriftReference | null,
): DriftGroup {
  const zero = () => new Array<number>(DRIFT_BINS).fill(0);
  const score = reference?.score ?? null;
  const labels = [...new Set([...field.scoreByLabel.keys(), ...Object.keys(score?.byLabel ?? {})])].sort();
  return {
    deviceId,
    frames: field.frames,
    framesWithInput: field.framesWithInput,
    statistics: [
      compareHistograms("luma", null, reference?.luma ?? null, field.luma),
      compareHistograms("contrast", null, reference?.contrast ?? null, field.contrast),
      compareHistograms("score", null, score?.all ?? null, field.score),
      ...labels.map((l) =>
        compareHistograms("score", l, score ? (score.byLabel[l] ?? zero()) : null, field.scoreByLabel.get(l) ?? zero()),
      ),
    ],
  };
}
