import type { ModelManifest } from "@kensa/contracts";
import { calibrate } from "./calibrate.js";
import { GraphBuilder } from "./graph-builder.js";
import { type ConvSpec, FloatEmitter, type NetEmitter, type Value } from "./net-emitter.js";
import { QdqEmitter } from "./qdq-emitter.js";
import { heNormal, type SeededRandom, seededRandom } from "./seeded-random.js";

export interface UNetOptions {
  /** input width and height in px; divisible by 2^(levels − 1). Default 256 */
  size?: number;
  /** channels per level, top to bottom; the last is the bottleneck. Default [32, 64, 128, 256] */
  channels?: readonly number[];
  /** labels of the per-pixel classes; the first is the background. Default ["background", "defect"] */
  labels?: readonly string[];
  /** weight seed; the same seed builds the same model byte for byte */
  seed?: number;
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/**
 * A standard small U-Net (Ronneberger et al., 2015, with padded convs as in most PyTorch
 * ports) with seeded random weights, BatchNorm folded into the convs. Default shape: 256×256
 * RGB in, 4 levels of 32-64-128-256 channels: per level two 3×3 conv + ReLU, 2×2 max pool
 * down; the 256-channel level is the bottleneck; each decoder level up-samples with a 2×2/2
 * transposed conv halving the channels, concatenates the encoder's skip and applies two
 * 3×3 conv + ReLU; a 1×1 conv gives per-class logits. 1.9M parameters, ≈9.2 GMAC at 256²
 * (five times ResNet18 at 224²). Input "input" [N,3,S,S], output "logits" [N,classes,S,S].
 */
export function buildUNet(opts: UNetOptions = {}): { onnx: Uint8Array; manifest: ModelManifest } {
  const w = unetWeights(opts);
  const g = new GraphBuilder("kensa-unet");
  emitUNet(new FloatEmitter(g), w);
  return {
    onnx: g.toBytes({ docString: `U-Net ${w.channels.join("-")} at ${w.size}x${w.size}, seeded random weights` }),
    manifest: unetManifest(w),
  };
}

/**
 * The same U-Net quantized to int8 QDQ like buildResNet18Int8 (per-channel int8 weights,
 * uint8 activations with scales calibrated on the float model); the logits are dequantized.
 */
export async function buildUNetInt8(opts: UNetOptions = {}): Promise<{ onnx: Uint8Array; manifest: ModelManifest }> {
  const w = unetWeights(opts);
  const ranges = await calibrate((e) => emitUNet(e, w), { name: "input", size: w.size, ...IMAGENET }, 2);
  const g = new GraphBuilder("kensa-unet-int8");
  emitUNet(new QdqEmitter(g, ranges), w);
  return {
    onnx: g.toBytes({ docString: `U-Net ${w.channels.join("-")} at ${w.size}x${w.size}, int8 QDQ static` }),
    manifest: unetManifest(w),
  };
}

interface UNetWeights {
  size: number;
  channels: readonly number[];
  labels: readonly string[];
  convs: Map<string, ConvSpec>;
}

function unetWeights(opts: UNetOptions): UNetWeights {
  const size = opts.size ?? 256;
  const channels = opts.channels ?? [32, 64, 128, 256];
  const labels = opts.labels ?? ["background", "defect"];
  const levels = channels.length;
  if (levels < 2 || size % 2 ** (levels - 1) !== 0) {
    throw new RangeError(`U-Net: size ${size} must be divisible by 2^${levels - 1}, with at least 2 levels`);
  }
  if (labels.length < 2) throw new RangeError("U-Net: at least two labels (background and a class)");
  const rng = seededRandom(opts.seed ?? 7);
  const convs = new Map<string, ConvSpec>();
  const add = (key: string, cin: number, cout: number, k: number, stride: number, fanIn = cin * k * k) => {
    convs.set(key, spec(rng, key, cin, cout, k, stride, fanIn));
  };
  let c = 3;
  for (const [i, ch] of channels.entries()) {
    add(`enc${i + 1}.conv1`, c, ch, 3, 1);
    add(`enc${i + 1}.conv2`, ch, ch, 3, 1);
    c = ch;
  }
  for (let i = levels - 2; i >= 0; i--) {
    const ch = channels[i]!;
    // each output px of a 2×2/2 transposed conv sees one tap per input channel
    add(`up${i + 1}`, c, ch, 2, 2, c);
    add(`dec${i + 1}.conv1`, 2 * ch, ch, 3, 1);
    add(`dec${i + 1}.conv2`, ch, ch, 3, 1);
    c = ch;
  }
  add("head", c, labels.length, 1, 1);
  return { size, channels, labels, convs };
}

function emitUNet(e: NetEmitter, w: UNetWeights): void {
  const conv = (key: string) => {
    const s = w.convs.get(key);
    if (!s) throw new Error(`U-Net: no weights for ${key}`);
    return s;
  };
  let x: Value = e.input("input", 3, w.size, w.size);
  const skips: Value[] = [];
  for (let i = 0; i < w.channels.length; i++) {
    if (i > 0) x = e.maxPool(x, 2, 2, 0);
    x = e.conv(e.conv(x, conv(`enc${i + 1}.conv1`), true), conv(`enc${i + 1}.conv2`), true);
    skips.push(x);
  }
  for (let i = w.channels.length - 2; i >= 0; i--) {
    x = e.concat(skips[i]!, e.upConv(x, conv(`up${i + 1}`)), `cat${i + 1}`);
    x = e.conv(e.conv(x, conv(`dec${i + 1}.conv1`), true), conv(`dec${i + 1}.conv2`), true);
  }
  e.output(e.conv(x, conv("head"), false), "logits");
}

function unetManifest(w: UNetWeights): ModelManifest {
  return {
    task: "segmentation",
    input: { name: "input", width: w.size, height: w.size, channels: 3, layout: "NCHW" },
    preprocessing: { resize: "stretch", scale: 1 / 255, ...IMAGENET },
    labels: [...w.labels],
    okLabels: [w.labels[0]!],
    postprocessing: {
      type: "segmentation",
      activation: "softmax",
      output: "logits",
      maskThreshold: 0.5,
      minArea: 0,
      maxRegions: 100,
    },
    thresholds: { default: 0.5, perClass: {} },
  };
}

/** He-normal weights; `fanIn` defaults to cin·k² (a transposed conv passes its own). */
function spec(
  rng: SeededRandom,
  key: string,
  cin: number,
  cout: number,
  k: number,
  stride: number,
  fanIn: number,
): ConvSpec {
  const weight = heNormal(rng, cout * cin * k * k, fanIn);
  const bias = new Float32Array(cout).map(() => 0.05 * rng.normal());
  return { key, cin, cout, k, stride, pad: stride === 1 ? (k - 1) >> 1 : 0, weight, bias };
}
