import type { Box, InferenceResult, Zone } from "@kensa/contracts";
import { pointInPolygon, type Rect, rectInsideShare } from "./geometry.js";

/** What a rule sees of one frame. */
export interface RuleInput {
  result: InferenceResult;
  /** the original frame's size in px (boxes and areas are in its px) */
  frame: { width: number; height: number };
  /** the bundle's labels and the ones that mean "nothing wrong" */
  labels: readonly string[];
  okLabels: readonly string[];
}

/** One thing a rule can look at: a class score of the whole frame, or a located detection or region. */
export interface RuleObject {
  label: string;
  score: number;
  /** px of the original frame; absent for whole-frame scores (classification, the anomaly image score) */
  box?: Box;
  /** px² of the original frame: a region's pixel area, a box's width × height */
  area?: number;
}

/**
 * Whole-frame scores: every class of a classification (from `scores`, else the top label), the
 * image score of an anomaly map. They cannot be located, so a zone excludes them.
 */
export function frameObjects(result: InferenceResult): RuleObject[] {
  switch (result.task) {
    case "classification": {
      const entries = Object.entries(result.scores);
      if (entries.length === 0) return [{ label: result.label, score: result.score }];
      return entries.map(([label, score]) => ({ label, score }));
    }
    case "anomaly":
      return [{ label: result.label, score: result.score }];
    default:
      return [];
  }
}

/** Located objects: detections (area = box), regions of segmentation and anomaly maps (their px area). */
export function boxObjects(result: InferenceResult): RuleObject[] {
  switch (result.task) {
    case "detection":
      return result.detections.map((d) => ({ label: d.label, score: d.score, box: d.box, area: d.box[2] * d.box[3] }));
    case "segmentation":
    case "anomaly":
      return result.regions.map((r) => ({ label: r.label, score: r.score, box: r.box, area: r.area }));
    default:
      return [];
  }
}

/** The box as fractions of the frame, the zone's unit. */
export function normalisedBox(box: Box, frame: { width: number; height: number }): Rect {
  const w = Math.max(1, frame.width);
  const h = Math.max(1, frame.height);
  return [box[0] / w, box[1] / h, box[2] / w, box[3] / h];
}

/** Whether a located object belongs to the zone (centre inside, or enough of its box). */
export function inZone(obj: RuleObject, zone: Zone, frame: { width: number; height: number }): boolean {
  if (!obj.box) return false;
  const r = normalisedBox(obj.box, frame);
  if ((zone.inside ?? "centre") === "centre") return pointInPolygon(r[0] + r[2] / 2, r[1] + r[3] / 2, zone.polygon);
  return rectInsideShare(r, zone.polygon) >= (zone.minOverlap ?? 0.5);
}

/** The rule's classes: the ones it names, else every label of the bundle that is not OK. */
export function watchedLabels(labels: readonly string[] | undefined, input: RuleInput): ReadonlySet<string> {
  if (labels?.length) return new Set(labels);
  return new Set(input.labels.filter((l) => !input.okLabels.includes(l)));
}

/**
 * Objects of `labels` scoring at least `minScore`: with a zone, the located ones inside it;
 * without, whole-frame scores and located objects alike.
 */
export function candidates(
  input: RuleInput,
  labels: ReadonlySet<string>,
  minScore: number,
  zone: Zone | undefined,
): RuleObject[] {
  const pool = zone
    ? boxObjects(input.result).filter((o) => inZone(o, zone, input.frame))
    : [...frameObjects(input.result), ...boxObjects(input.result)];
  return pool.filter((o) => labels.has(o.label) && o.score >= minScore);
}

/** The best-scoring object, if any. */
export function best(objects: readonly RuleObject[]): RuleObject | undefined {
  let top: RuleObject | undefined;
  for (const o of objects) if (!top || o.score > top.score) top = o;
  return top;
}

/** An object as the event's `detail` carries it (rounded: it travels with every hit). */
export function describeObject(o: RuleObject): Record<string, unknown> {
  return {
    label: o.label,
    score: round(o.score, 4),
    ...(o.box ? { box: o.box.map((v) => round(v, 1)) } : {}),
    ...(o.area !== undefined ? { area: round(o.area, 1) } : {}),
  };
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
