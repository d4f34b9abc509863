import type { ModelManifest } from "@kensa/contracts";
import { calibrate } from "./calibrate.js";
import { GraphBuilder } from "./graph-builder.js";
import { type ConvSpec, FloatEmitter, type NetEmitter } from "./net-emitter.js";
import { QdqEmitter } from "./qdq-emitter.js";
import { heNormal, seededRandom } from "./seeded-random.js";

export interface ResNet18Options {
  /** classes of the final FC layer; torchvision's 1000 by default */
  numClasses?: number;
  /** weight seed; the same seed builds the same model byte for byte */
  seed?: number;
}

/** The 224×224 ImageNet input every torchvision classifier expects. */
const SIZE = 224;
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/**
 * ResNet18 with torchvision's topology and seeded random weights (He-normal; BatchNorm folded
 * into each conv's weight and bias, as ONNX Runtime would fold it anyway): 7×7/2 conv 64,
 * 3×3/2 max pool, four stages of two BasicBlocks (64, 128, 256, 512 channels; stages 2–4
 * start with stride 2 and a 1×1/2 projection shortcut), global average pool, FC. 11.7M
 * parameters, 1.8 GMAC at 224×224. For speed and memory measurements, not for predictions.
 * Input "input" [N,3,224,224], output "logits" [N,numClasses].
 */
export function buildResNet18(opts: ResNet18Options = {}): { onnx: Uint8Array; manifest: ModelManifest } {
  const weights = resnet18Weights(opts);
  const g = new GraphBuilder("kensa-resnet18");
  emitResNet18(new FloatEmitter(g), weights);
  return {
    onnx: g.toBytes({ docString: "ResNet18 (torchvision topology), seeded random weights, BN folded" }),
    manifest: resnet18Manifest(weights.fc.classes),
  };
}

/**
 * The same ResNet18 (same seed, same weights) quantized to int8 in the QDQ format that ONNX
 * Runtime's quantizer writes and its CPU provider fuses into QLinearConv / QLinearAdd:
 * weights int8 symmetric per output channel, biases int32, activations uint8 with static
 * scales calibrated by running the float model (ORT-node has no quantizer, so this is it).
 * The stem input is quantized over the ImageNet-normalised pixel range; the FC layer stays
 * float (0.5M MAC of 1.8G). Async: calibration runs the float model.
 */
export async function buildResNet18Int8(
  opts: ResNet18Options = {},
): Promise<{ onnx: Uint8Array; manifest: ModelManifest }> {
  const weights = resnet18Weights(opts);
  const ranges = await calibrate((e) => emitResNet18(e, weights), { name: "input", size: SIZE, ...IMAGENET });
  const g = new GraphBuilder("kensa-resnet18-int8");
  emitResNet18(new QdqEmitter(g, ranges), weights);
  return {
    onnx: g.toBytes({ docString: "ResNet18 (torchvision topology), seeded random weights, int8 QDQ static" }),
    manifest: resnet18Manifest(weights.fc.classes),
  };
}

function resnet18Manifest(classes: number): ModelManifest {
  return {
    task: "classification",
    input: { name: "input", width: SIZE, height: SIZE, channels: 3, layout: "NCHW" },
    // torchvision evaluates on a centre crop of a shorter-side resize
    preprocessing: { resize: "center-crop", scale: 1 / 255, ...IMAGENET },
    labels: Array.from({ length: classes }, (_, i) => `class_${i}`),
    okLabels: ["class_0"],
    postprocessing: { type: "classification", activation: "softmax", output: "logits" },
    thresholds: { default: 0.5, perClass: {} },
  };
}

interface ResNet18Weights {
  convs: Map<string, ConvSpec>;
  fc: { weight: Float32Array; bias: Float32Array; classes: number; features: number };
}

const STAGES = [64, 128, 256, 512] as const;

function resnet18Weights(opts: ResNet18Options): ResNet18Weights {
  const classes = opts.numClasses ?? 1000;
  if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`numClasses must be ≥ 1, got ${classes}`);
  const rng = seededRandom(opts.seed ?? 18);
  const convs = new Map<string, ConvSpec>();
  // gain 0.5 on the last conv of each residual branch keeps the residual stream from growing
  // stage by stage (torchvision's zero_init_residual taken halfway), so int8 ranges stay sane
  const conv = (key: string, cin: number, cout: number, k: number, stride: number, gain = 1) => {
    const fanIn = cin * k * k;
    const bias = new Float32Array(cout).map(() => 0.05 * rng.normal());
    convs.set(key, {
      key,
      cin,
      cout,
      k,
      stride,
      pad: (k - 1) >> 1,
      weight: heNormal(rng, cout * fanIn, fanIn, gain),
      bias,
    });
  };
  conv("conv1", 3, 64, 7, 2);
  let cin = 64;
  STAGES.forEach((ch, s) => {
    for (let b = 0; b < 2; b++) {
      const p = `layer${s + 1}.${b}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      conv(`${p}.conv1`, cin, ch, 3, stride);
      conv(`${p}.conv2`, ch, ch, 3, 1, 0.5);
      if (stride !== 1 || cin !== ch) conv(`${p}.downsample`, cin, ch, 1, stride, 0.5);
      cin = ch;
    }
  });
  const features = 512;
  const weight = new Float32Array(classes * features);
  const bound = 1 / Math.sqrt(features);
  // torchvision's Linear init: uniform ±1/√fanIn
  for (let i = 0; i < weight.length; i++) weight[i] = (rng.uniform() * 2 - 1) * bound;
  const bias = new Float32Array(classes).map(() => (rng.uniform() * 2 - 1) * bound);
  return { convs, fc: { weight, bias, classes, features } };
}

function emitResNet18(e: NetEmitter, w: ResNet18Weights): void {
  const spec = (key: string) => {
    const s = w.convs.get(key);
    if (!s) throw new Error(`resnet18: no weights for ${key}`);
    return s;
  };
  let x = e.input("input", 3, SIZE, SIZE);
  x = e.conv(x, spec("conv1"), true);
  x = e.maxPool(x, 3, 2, 1);
  STAGES.forEach((_, s) => {
    for (let b = 0; b < 2; b++) {
      const p = `layer${s + 1}.${b}`;
      const branch = e.conv(e.conv(x, spec(`${p}.conv1`), true), spec(`${p}.conv2`), false);
      const shortcut = w.convs.has(`${p}.downsample`) ? e.conv(x, spec(`${p}.downsample`), false) : x;
      x = e.addRelu(branch, shortcut, `${p}.add`);
    }
  });
  e.classifierHead(x, "logits", w.fc);
}
