import type { AnomalyResult } from "@kensa/contracts";
import { Inferencer } from "@kensa/vision";
import { imageBytes, latencyStats } from "../eval-helpers.js";
import { auroc } from "../metrics/auroc.js";
import type { EvalContext, TaskEvaluator, TaskMetrics } from "../task-evaluator.js";

/** Image-level ROC-AUC of the anomaly score, and accuracy of `finding` at the bundle threshold. */
export const anomalyEvaluator: TaskEvaluator = {
  task: "anomaly",
  async evaluate(model: Uint8Array, ctx: EvalContext): Promise<TaskMetrics> {
    const inf = await Inferencer.create(model, ctx.manifest, { intraOpThreads: ctx.threads, spinning: false });
    const scores: number[] = [];
    const truth: boolean[] = [];
    const findings: number[] = [];
    const sampleIds: string[] = [];
    let correct = 0;
    const ms: number[] = [];
    try {
      await inf.warmup();
      for (const item of ctx.items) {
        ctx.signal?.throwIfAborted();
        const c = item.label.content;
        const anomalous = c.anomaly ?? (c.classes.some((l) => !ctx.okLabels.includes(l)) || c.objects.length > 0);
        const frame = await inf.prepare(await imageBytes(ctx.blobs, item));
        const input = ctx.reference?.stats(frame.data);
        const r = await inf.run(frame);
        if (input) ctx.reference?.add(input, r.result);
        const result = r.result as AnomalyResult;
        ms.push(r.latencyMs.total);
        scores.push(result.score);
        truth.push(anomalous);
        findings.push(result.finding ? 1 : 0);
        sampleIds.push(item.sampleId);
        if (result.finding === anomalous) correct++;
      }
    } finally {
      await inf.close();
    }
    const values: Record<string, number> = { accuracy: scores.length ? correct / scores.length : 0 };
    const a = auroc(scores, truth);
    if (a !== null) values.auroc = a;
    return {
      task: "anomaly",
      samples: scores.length,
      values,
      perClass: {},
      latency: latencyStats(ms),
      outcomes: { kind: "anomaly", sampleIds, truth: truth.map((t) => (t ? 1 : 0)), finding: findings, score: scores },
    };
  },
};
