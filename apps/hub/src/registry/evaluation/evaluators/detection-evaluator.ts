import type { DetectionResult, ModelManifest } from "@kensa/contracts";
import { Inferencer } from "@kensa/vision";
import { imageBytes, latencyStats, truthBoxes } from "../eval-helpers.js";
import { detectionValues } from "../headline-values.js";
import { type DetectionImage, detectionMetrics } from "../metrics/detection-metrics.js";
import { detectionOutcomes } from "../metrics/detection-outcomes.js";
import type { EvalContext, TaskEvaluator, TaskMetrics } from "../task-evaluator.js";

/** candidates kept for AP: COCO evaluates down to a score of 0.001 (Ultralytics' val conf) */
const EVAL_MIN_SCORE = 0.001;

/** mAP@0.5 and mAP@0.5:0.95 (COCO 101-point), per class AP; boxes in original image px. */
export const detectionEvaluator: TaskEvaluator = {
  task: "detection",
  async evaluate(model: Uint8Array, ctx: EvalContext): Promise<TaskMetrics> {
    const { manifest } = ctx;
    const post = manifest.postprocessing;
    // AP needs the low-score tail a deployed model drops; the deployment threshold is not scored here
    const evalManifest: ModelManifest =
      post.type === "detection"
        ? { ...manifest, postprocessing: { ...post, minScore: Math.min(post.minScore, EVAL_MIN_SCORE) } }
        : manifest;
    const inf = await Inferencer.create(model, evalManifest, { intraOpThreads: ctx.threads, spinning: false });
    const images: DetectionImage[] = [];
    const sampleIds: string[] = [];
    const ms: number[] = [];
    try {
      await inf.warmup();
      for (const item of ctx.items) {
        ctx.signal?.throwIfAborted();
        const frame = await inf.prepare(await imageBytes(ctx.blobs, item));
        const input = ctx.reference?.stats(frame.data);
        const r = await inf.run(frame);
        if (input) ctx.reference?.add(input, r.result);
        ms.push(r.latencyMs.total);
        sampleIds.push(item.sampleId);
        const result = r.result as DetectionResult;
        images.push({
          truths: await truthBoxes(ctx.blobs, item.label.content, manifest.labels, ctx.okLabels),
          detections: result.detections.filter((d) => !ctx.okLabels.includes(d.label)),
        });
      }
    } finally {
      await inf.close();
    }
    const labels = manifest.labels.filter((l) => !ctx.okLabels.includes(l));
    const m = detectionMetrics(images, labels);
    const perClass: Record<string, number> = {};
    for (const [l, c] of Object.entries(m.perClass)) if (c.truths > 0) perClass[l] = c.ap50;
    return {
      task: "detection",
      samples: images.length,
      values: detectionValues(m),
      perClass,
      latency: latencyStats(ms),
      detection: m,
      outcomes: detectionOutcomes(sampleIds, images, labels),
    };
  },
};
