import { headlineOf, type InferenceResult } from "@kensa/contracts";
import type { CaptureCandidate, CaptureSink } from "../inference/pipeline.js";
import type { Logger } from "../logger.js";
import type { CaptureBudget } from "./capture-budget.js";
import type { CaptureQueue } from "./capture-queue.js";
import { differenceHash, hammingDistance } from "./perceptual-hash.js";

/** Why a frame was kept: the hub's CaptureQuery `reason`. */
export type CaptureReason = "disagreement" | "low_confidence" | "random";

export interface CapturePolicy {
  /** [low, high]: a frame whose top score falls in it is kept as low_confidence; null: off */
  band: readonly [number, number] | null;
  /** capture frames where the shadow model disagrees with the bundle */
  disagreement: boolean;
  /** share of all other frames kept at random, 0..1 */
  sampleRate: number;
  /** near-duplicate suppression: Hamming distance of dHashes at or below which a frame is a repeat */
  maxDistance: number;
  /** captures of a source its next frame is compared with */
  last: number;
}

export interface CaptureStats {
  captured: number;
  /** kept out as a near-duplicate of a recent capture of its source */
  duplicates: number;
  /** kept out because its source's daily budget was spent */
  overBudget: number;
  byReason: Record<CaptureReason, number>;
}

/** Whether the two results disagree: their verdicts differ, or the label that stands for them does. */
export function disagree(a: InferenceResult, b: InferenceResult): boolean {
  return a.finding !== b.finding || headlineOf(a)?.label !== headlineOf(b)?.label;
}

/**
 * Whether the model was unsure: classification and anomaly by their top score; detection and
 * segmentation by any box or region whose score falls in the band (a box the model half-saw
 * is what a labeler should look at).
 */
export function uncertain(result: InferenceResult, band: readonly [number, number]): boolean {
  const [low, high] = band;
  const within = (s: number) => s >= low && s <= high;
  switch (result.task) {
    case "classification":
    case "anomaly":
      return within(result.score);
    case "detection":
      return result.detections.some((d) => within(d.score));
    case "segmentation":
      return result.regions.some((r) => within(r.score));
  }
}

/** The reason to keep a frame, strongest first, or undefined. */
export function captureReason(
  c: Pick<CaptureCandidate, "result" | "shadow">,
  policy: CapturePolicy,
  random: () => number,
): CaptureReason | undefined {
  if (policy.disagreement && c.shadow && disagree(c.result, c.shadow)) return "disagreement";
  if (policy.band && uncertain(c.result, policy.band)) return "low_confidence";
  if (policy.sampleRate > 0 && random() < policy.sampleRate) return "random";
  return undefined;
}

/**
 * Keeps frames for learning: decides the reason (disagreement with the shadow model, a score
 * in the uncertainty band, a random sample), spends the source's daily budget, suppresses
 * near-duplicates of the source's last captures by perceptual hash, and queues the frame for
 * upload under the event's id (idempotent on the hub). The hash is computed only for frames
 * that have a reason, and a repeat does not spend budget.
 */
export class Capturer implements CaptureSink {
  readonly #policy: CapturePolicy;
  readonly #budget: CaptureBudget;
  readonly #queue: CaptureQueue;
  readonly #random: () => number;
  readonly #log: Logger;
  /** per source, the hashes of its last captures, newest last */
  readonly #recent = new Map<string, bigint[]>();
  readonly #stats: CaptureStats = {
    captured: 0,
    duplicates: 0,
    overBudget: 0,
    byReason: { disagreement: 0, low_confidence: 0, random: 0 },
  };

  constructor(opts: {
    policy: CapturePolicy;
    budget: CaptureBudget;
    queue: CaptureQueue;
    logger: Logger;
    random?: () => number;
  }) {
    this.#policy = opts.policy;
    this.#budget = opts.budget;
    this.#queue = opts.queue;
    this.#random = opts.random ?? Math.random;
    this.#log = opts.logger.child({ component: "capture" });
  }

  get wantsShadow(): boolean {
    return this.#policy.disagreement;
  }

  stats(): CaptureStats {
    return { ...this.#stats, byReason: { ...this.#stats.byReason } };
  }

  async consider(c: CaptureCandidate): Promise<{ id: string; reason: string } | undefined> {
    const reason = captureReason(c, this.#policy, this.#random);
    if (!reason) return undefined;
    if (!this.#budget.left(c.sourceId, c.capturedAt)) {
      this.#stats.overBudget++;
      return undefined;
    }
    const hash = await differenceHash(c.image);
    const recent = this.#recent.get(c.sourceId) ?? [];
    if (recent.some((h) => hammingDistance(h, hash) <= this.#policy.maxDistance)) {
      this.#stats.duplicates++;
      return undefined;
    }
    if (!this.#budget.take(c.sourceId, c.capturedAt)) {
      this.#stats.overBudget++;
      return undefined;
    }
    const head = headlineOf(c.result);
    await this.#queue.enqueue(c.eventId, c.sourceId, c.image, {
      reason,
      ts: c.capturedAt.toISOString(),
      ...(head ? { label: head.label, score: Math.min(1, Math.max(0, head.score)) } : {}),
    });
    recent.push(hash);
    if (recent.length > this.#policy.last) recent.shift();
    this.#recent.set(c.sourceId, recent);
    this.#stats.captured++;
    this.#stats.byReason[reason]++;
    this.#log.debug("frame captured", { eventId: c.eventId, sourceId: c.sourceId, reason });
    return { id: c.eventId, reason };
  }
}
