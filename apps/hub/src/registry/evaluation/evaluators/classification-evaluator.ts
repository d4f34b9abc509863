import type { ClassificationResult } from "@kensa/contracts";
import { Inferencer } from "@kensa/vision";
import { imageBytes, latencyStats, trueClass } from "../eval-helpers.js";
import { classificationValues } from "../headline-values.js";
import { type ClassifiedImage, classificationMetrics, defectScore } from "../metrics/classification-metrics.js";
import type { EvalContext, TaskEvaluator, TaskMetrics } from "../task-evaluator.js";

/** Accuracy, per-class P/R/F1, confusion and defect-vs-OK ROC-AUC through the deployed path (Inferencer). */
export const classificationEvaluator: TaskEvaluator = {
  task: "classification",
  async evaluate(model: Uint8Array, ctx: EvalContext): Promise<TaskMetrics> {
    const { manifest } = ctx;
    const labels = manifest.labels;
    const post = manifest.postprocessing;
    const activation = post.type === "classification" ? post.activation : "none";
    const inf = await Inferencer.create(model, manifest, { intraOpThreads: ctx.threads, spinning: false });
    const images: ClassifiedImage[] = [];
    const sampleIds: string[] = [];
    const ms: number[] = [];
    try {
      await inf.warmup();
      for (const item of ctx.items) {
        ctx.signal?.throwIfAborted();
        const truth = trueClass(item.label.content, labels, ctx.okLabels);
        if (truth === null) continue;
        const frame = await inf.prepare(await imageBytes(ctx.blobs, item), item.referenceKey);
        const input = ctx.reference?.stats(frame.data);
        const r = await inf.run(frame);
        if (input) ctx.reference?.add(input, r.result);
        const result = r.result as ClassificationResult;
        ms.push(r.latencyMs.total);
        sampleIds.push(item.sampleId);
        images.push({
          truth,
          predicted: labels.indexOf(result.label),
          defectScore: defectScore(result.scores, ctx.okLabels, activation),
        });
      }
    } finally {
      await inf.close();
    }
    const m = classificationMetrics(images, labels, ctx.okLabels);
    const values = classificationValues(m);
    const perClass: Record<string, number> = {};
    for (const [l, c] of Object.entries(m.perClass)) if (c.support > 0) perClass[l] = c.f1;
    return {
      task: "classification",
      samples: images.length,
      values,
      perClass,
      latency: latencyStats(ms),
      classification: m,
      outcomes: {
        kind: "classification",
        sampleIds,
        labels: [...labels],
        ok: labels.map((l) => ctx.okLabels.includes(l)),
        truth: images.map((i) => i.truth),
        predicted: images.map((i) => i.predicted),
        score: images.map((i) => i.defectScore),
      },
    };
  },
};
