import type { ModelManifest } from "@kensa/contracts";
import { GraphBuilder } from "./graph-builder.js";

/** One centre-surround detector: a difference of Gaussians on the grey image. */
export interface BlemishChannel {
  /** "dark": fires where the centre is darker than its surroundings; "bright": the opposite */
  polarity: "dark" | "bright";
  /** px at the model's input resolution */
  centreSigma: number;
  surroundSigma: number;
  /** response (0..1 grey levels) below which this channel says nothing: the texture and noise floor */
  threshold: number;
  /** logit gained per unit of response above the threshold */
  gain: number;
}

export interface BlemishParams {
  channels: readonly BlemishChannel[];
  /** logit of "ok" when no channel fires; the "defect" logit starts at 0 */
  okBias: number;
}

/**
 * Tuned on @kensa/synth frames (320x240 → 64x64, both surfaces, seeds 100..105, 150 frames
 * each — never the seeds the tests score on) with packages/vision/scripts/calibrate-blemish.ts.
 * Measured strongest responses: OK frames ≤ 0.015 (brushed) and ≤ 0.028 (cast, pores and
 * mottling); the weakest defects, short near-vertical scratches 2 px wide, ≥ 0.051; spots
 * ≥ 0.176; stains ≥ 0.105. Each channel's threshold sits just above the OK maxima and
 * okBias / gain = 0.012 puts the 50% point at 0.045, between the two.
 */
export const BLEMISH_PARAMS: BlemishParams = {
  channels: [
    { polarity: "dark", centreSigma: 0.7, surroundSigma: 2.5, threshold: 0.033, gain: 330 },
    { polarity: "dark", centreSigma: 1.5, surroundSigma: 4, threshold: 0.033, gain: 330 },
    { polarity: "bright", centreSigma: 0.7, surroundSigma: 2.5, threshold: 0.033, gain: 330 },
  ],
  okBias: 4,
};

export interface BlemishModelOptions {
  /** model input width in px, default 64 */
  width?: number;
  /** model input height in px, default 64 */
  height?: number;
}

/**
 * Kensa's first model, until a trainer exists: a small CNN with hand-designed weights that
 * flags blemishes (spots, scratches, stains) on a plain surface. It is centre-surround by
 * construction — a zero-sum difference of Gaussians ignores lighting gradients, and Gaussian
 * weighting ignores texture finer or fainter than a defect — so it holds across lighting and
 * brushed or cast textures. The weights are tuned for 64x64 inputs of 4:3 frames.
 *
 * image [N,3,H,W] → grey (1x1 Conv) → edge Pad → DoG Conv (bias = −threshold) → Relu →
 * GlobalMaxPool → Flatten → Gemm [ok, defect] → Softmax → scores [N,2]
 */
export function buildBlemishModel(opts: BlemishModelOptions = {}): { onnx: Uint8Array; manifest: ModelManifest } {
  const width = opts.width ?? 64;
  const height = opts.height ?? 64;
  return {
    onnx: buildBlemishGraph(width, height, BLEMISH_PARAMS, false),
    manifest: {
      task: "classification",
      input: { name: "image", width, height, channels: 3, layout: "NCHW" },
      preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
      labels: ["ok", "defect"],
      okLabels: ["ok"],
      // the graph ends in Softmax already
      postprocessing: { type: "classification", activation: "none", output: "scores" },
      thresholds: { default: 0.5, perClass: {} },
    },
  };
}

/**
 * The graph for given parameters. With `probe`, the model instead outputs "responses" [N,C]:
 * each channel's strongest raw response before thresholds, which is what calibration reads.
 */
export function buildBlemishGraph(width: number, height: number, params: BlemishParams, probe: boolean): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 8 || height < 8) {
    throw new RangeError(`blemish model: input must be at least 8x8 integer px, got ${width}x${height}`);
  }
  const channels = params.channels;
  const c = channels.length;
  const radius = Math.ceil(2.5 * Math.max(...channels.map((ch) => ch.surroundSigma)));
  const k = 2 * radius + 1;

  const g = new GraphBuilder(probe ? "kensa-blemish-probe" : "kensa-blemish");
  const image = g.input("image", ["N", 3, height, width]);
  const grey = g.node("Conv", [image, g.initializer("grey_w", [1, 3, 1, 1], [1 / 3, 1 / 3, 1 / 3])], {
    kernel_shape: { ints: [1, 1] },
  });
  // replicate the border: zero padding would read as a dark frame around every image
  const pads = g.int64Initializer("pads", [8], [0, 0, radius, radius, 0, 0, radius, radius]);
  const padded = g.node("Pad", [grey, pads], { mode: { string: "edge" } });
  const kernels = new Float32Array(c * k * k);
  for (const [i, ch] of channels.entries()) kernels.set(dogKernel(ch, radius), i * k * k);
  const bias = channels.map((ch) => (probe ? 0 : -ch.threshold));
  const dog = g.node(
    "Conv",
    [padded, g.initializer("dog_w", [c, 1, k, k], kernels), g.initializer("dog_b", [c], bias)],
    {
      kernel_shape: { ints: [k, k] },
    },
  );

  if (probe) {
    const pooled = g.node("GlobalMaxPool", [dog]);
    g.output(g.node("Flatten", [pooled], { axis: { int: 1 } }, "responses"), ["N", c]);
    return g.toBytes({ docString: "Kensa blemish model probe: raw centre-surround maxima" });
  }

  const fired = g.node("Relu", [dog]);
  const pooled = g.node("GlobalMaxPool", [fired]);
  const flat = g.node("Flatten", [pooled], { axis: { int: 1 } });
  // row 0 = ok, row 1 = defect; "defect" wins once the summed evidence exceeds okBias
  const fcW = [...channels.map(() => 0), ...channels.map((ch) => ch.gain)];
  const logits = g.node(
    "Gemm",
    [flat, g.initializer("fc_w", [2, c], fcW), g.initializer("fc_b", [2], [params.okBias, 0])],
    { transB: { int: 1 } },
  );
  g.output(g.node("Softmax", [logits], { axis: { int: 1 } }, "scores"), ["N", 2]);
  return g.toBytes({ docString: "Kensa blemish model: hand-designed centre-surround defect detector" });
}

/**
 * surround − centre (dark) or centre − surround (bright), each Gaussian normalised to sum 1
 * over the window, so the kernel sums to exactly zero and a linear gradient gives no response.
 */
function dogKernel(ch: BlemishChannel, radius: number): Float32Array {
  const k = 2 * radius + 1;
  const centre = gaussian(ch.centreSigma, radius);
  const surround = gaussian(ch.surroundSigma, radius);
  const sign = ch.polarity === "dark" ? 1 : -1;
  const out = new Float32Array(k * k);
  for (let i = 0; i < k * k; i++) out[i] = sign * (surround[i]! - centre[i]!);
  return out;
}

function gaussian(sigma: number, radius: number): Float64Array {
  const k = 2 * radius + 1;
  const out = new Float64Array(k * k);
  let sum = 0;
  for (let y = -radius; y <= radius; y++) {
    for (let x = -radius; x <= radius; x++) {
      const v = Math.exp(-(x * x + y * y) / (2 * sigma * sigma));
      out[(y + radius) * k + x + radius] = v;
      sum += v;
    }
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}
