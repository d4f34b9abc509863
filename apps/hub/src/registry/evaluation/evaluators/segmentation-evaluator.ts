import { KensaError, type SegmentationPost } from "@kensa/contracts";
import { inferMap, loadModel, modelInputDims, type TensorData, TileRunner } from "@kensa/vision";
import { imageBytes, latencyStats, truthMask } from "../eval-helpers.js";
import { segmentationValues } from "../headline-values.js";
import { IGNORE, SegmentationAccumulator } from "../metrics/segmentation-metrics.js";
import type { EvalContext, TaskEvaluator, TaskMetrics } from "../task-evaluator.js";

/**
 * IoU and Dice per class and defect-vs-background, and pixel ROC-AUC. The Inferencer gives
 * regions, not per-pixel scores, so the model runs here directly (loadModel + preprocess,
 * the deployed preprocessing). Scored at the model's output resolution: each output pixel
 * takes the truth of the original-image pixel under its centre (letterbox padding is not
 * scored), so a strided head is not penalised for its own resolution.
 */
export const segmentationEvaluator: TaskEvaluator = {
  task: "segmentation",
  async evaluate(model: Uint8Array, ctx: EvalContext): Promise<TaskMetrics> {
    const { manifest } = ctx;
    const post = manifest.postprocessing as SegmentationPost;
    const labels = [...manifest.labels];
    const okIdx = labels.findIndex((l) => ctx.okLabels.includes(l));
    // a model without an OK label predicts defects only: "nothing" gets a class of its own
    const background = okIdx >= 0 ? okIdx : labels.length;
    const accLabels = okIdx >= 0 ? labels : [...labels, "(background)"];
    const accOk = okIdx >= 0 ? [...ctx.okLabels] : ["(background)"];
    const acc = new SegmentationAccumulator(accLabels, accOk);
    const ok = accLabels.map((l) => accOk.includes(l));

    const runner = await loadModel(model, { intraOpThreads: ctx.threads, spinning: false });
    const ms: number[] = [];
    let samples = 0;
    const sampleIds: string[] = [];
    const cells: number[][] = [];
    const k = accLabels.length;
    try {
      const outName = post.output ?? runner.outputNames[0];
      if (!outName || !runner.outputNames.includes(outName)) {
        throw new KensaError("KENSA_ERR_EVALUATION_FAILED", `the model has no output "${outName}"`);
      }
      const dims = modelInputDims(manifest);
      await runner.run({ [manifest.input.name]: { data: new Float32Array(dims.reduce((a, b) => a * b)), dims } }, [
        outName,
      ]);
      const tiles = new TileRunner(runner, manifest, [outName]);
      for (const item of ctx.items) {
        ctx.signal?.throwIfAborted();
        const bytes = await imageBytes(ctx.blobs, item);
        const t0 = performance.now();
        // a tiled manifest's tiles are run and stitched as on the device
        const pre = await inferMap(runner, manifest, bytes, outName, tiles, item.referenceKey);
        const out = pre.map;
        const { classes, score, w, h } = decode(out, post, ok, background, labels.length);
        ms.push(performance.now() - t0);
        // input statistics only: the regions (and their scores) devices report are not made here
        ctx.reference?.add(ctx.reference.stats(pre.data), undefined);

        const truth = await truthMask(ctx.blobs, item, labels, ctx.okLabels, background);
        const t = pre.transform;
        const sampled = new Uint8Array(w * h);
        const cw = pre.inputWidth / w;
        const ch = pre.inputHeight / h;
        for (let i = 0; i < h; i++) {
          const oy = Math.floor(((i + 0.5) * ch - t.padY) / t.scaleY);
          for (let j = 0; j < w; j++) {
            const ox = Math.floor(((j + 0.5) * cw - t.padX) / t.scaleX);
            sampled[i * w + j] =
              ox < 0 || oy < 0 || ox >= item.image.width || oy >= item.image.height
                ? IGNORE
                : truth[oy * item.image.width + ox]!;
          }
        }
        acc.add(sampled, classes, score);
        cells.push(confusionCells(sampled, classes, k));
        sampleIds.push(item.sampleId);
        samples++;
      }
    } finally {
      await runner.release();
    }
    const m = acc.result();
    const perClass: Record<string, number> = {};
    for (const [l, c] of Object.entries(m.perClass)) {
      if (!accOk.includes(l) && c.pixels > 0) perClass[l] = c.iou;
    }
    const values = segmentationValues(m, accOk);
    return {
      task: "segmentation",
      samples,
      values,
      perClass,
      latency: latencyStats(ms),
      segmentation: m,
      outcomes: { kind: "segmentation", sampleIds, k, defect: accLabels.map((l) => !accOk.includes(l)), cells },
    };
  },
};

/** one image's pixel confusion (truth × predicted), its non-zero cells as flat [index, count, …] */
function confusionCells(truth: Uint8Array, predicted: Uint8Array, k: number): number[] {
  const counts = new Float64Array(k * k);
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    if (t !== IGNORE) counts[t * k + predicted[i]!]!++;
  }
  const out: number[] = [];
  for (let c = 0; c < counts.length; c++) if (counts[c]) out.push(c, counts[c]!);
  return out;
}

/** Per pixel of the model's mask: the class (argmax, or threshold for one channel) and the defect score. */
function decode(
  out: TensorData,
  post: SegmentationPost,
  ok: readonly boolean[],
  background: number,
  nLabels: number,
): { classes: Uint8Array; score: Float32Array; w: number; h: number } {
  const [, c, h, w] = out.dims as [number, number, number, number];
  const n = h * w;
  const d = out.data;
  const classes = new Uint8Array(n);
  const score = new Float32Array(n);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  if (c === 1) {
    const fg = nLabels - 1;
    for (let i = 0; i < n; i++) {
      const p = post.activation === "sigmoid" ? sig(d[i]!) : d[i]!;
      score[i] = ok[fg] ? 1 - p : p;
      classes[i] = p >= post.maskThreshold ? fg : background;
    }
    return { classes, score, w, h };
  }
  const probs = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let max = -Infinity;
    for (let k = 0; k < c; k++) {
      const v = d[k * n + i]!;
      probs[k] = v;
      if (v > max) {
        max = v;
        best = k;
      }
    }
    if (post.activation === "softmax") {
      let sum = 0;
      for (let k = 0; k < c; k++) sum += probs[k] = Math.exp(probs[k]! - max);
      for (let k = 0; k < c; k++) probs[k] = probs[k]! / sum;
    } else if (post.activation === "sigmoid") {
      for (let k = 0; k < c; k++) probs[k] = sig(probs[k]!);
    }
    let okSum = 0;
    let fgMax = 0;
    for (let k = 0; k < c; k++) {
      if (ok[k]) okSum += probs[k]!;
      else fgMax = Math.max(fgMax, probs[k]!);
    }
    score[i] = post.activation === "sigmoid" ? fgMax : 1 - okSum;
    classes[i] = best;
  }
  return { classes, score, w, h };
}
