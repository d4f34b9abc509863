import type { GraphBuilder } from "./graph-builder.js";

/** A value in a CNN under construction: its name and [C,H,W] shape (batch "N"). */
export interface Value {
  name: string;
  c: number;
  h: number;
  w: number;
  /** quantized graphs: the uint8 scale and zero point the value was dequantized with */
  q?: QParams;
}

export interface QParams {
  scale: number;
  zeroPoint: number;
  /** names of the scalar initializers holding them */
  scaleName: string;
  zeroPointName: string;
}

/** One convolution, BatchNorm folded into its weight [cout, cin, k, k] and bias [cout]. */
export interface ConvSpec {
  key: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
  weight: Float32Array;
  bias: Float32Array;
}

export interface DenseSpec {
  weight: Float32Array;
  bias: Float32Array;
  classes: number;
  features: number;
}

/**
 * The layers Kensa's reference CNNs (ResNet18, U-Net) are written in, so one topology
 * function emits both the float graph and its int8 QDQ twin. `key`s name quantization sites.
 */
export interface NetEmitter {
  input(name: string, c: number, h: number, w: number): Value;
  conv(x: Value, spec: ConvSpec, relu: boolean): Value;
  maxPool(x: Value, k: number, stride: number, pad: number): Value;
  /** relu(a + b): a residual join */
  addRelu(a: Value, b: Value, key: string): Value;
  /** k×k stride-k transposed conv: the U-Net decoder's up-sampling (weight [cin, cout, k, k]) */
  upConv(x: Value, spec: ConvSpec): Value;
  /** channel concatenation (U-Net skip connections) */
  concat(a: Value, b: Value, key: string): Value;
  /** global average pool, flatten, fully connected → logits [N, classes] as graph output */
  classifierHead(x: Value, output: string, fc: DenseSpec): string;
  /** declares `x` as the float graph output `name` ([N,C,H,W]) */
  output(x: Value, name: string): string;
}

export function convOut(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/**
 * Float32 layers. With `probe`, every activation a quantized twin would quantize is also a
 * graph output, listed in `sites` by key, which is how calibration reads ranges.
 */
export class FloatEmitter implements NetEmitter {
  readonly sites = new Map<string, string>();
  #g: GraphBuilder;
  #probe: boolean;

  constructor(g: GraphBuilder, opts: { probe?: boolean } = {}) {
    this.#g = g;
    this.#probe = opts.probe ?? false;
  }

  input(name: string, c: number, h: number, w: number): Value {
    return { name: this.#g.input(name, ["N", c, h, w]), c, h, w };
  }

  conv(x: Value, s: ConvSpec, relu: boolean): Value {
    const g = this.#g;
    const weight = g.initializer(`${s.key}.weight`, [s.cout, s.cin, s.k, s.k], s.weight);
    const bias = g.initializer(`${s.key}.bias`, [s.cout], s.bias);
    let y = g.node("Conv", [x.name, weight, bias], convAttributes(s));
    if (relu) y = g.node("Relu", [y]);
    const h = convOut(x.h, s.k, s.stride, s.pad);
    const w = convOut(x.w, s.k, s.stride, s.pad);
    return this.#site(s.key, { name: y, c: s.cout, h, w });
  }

  maxPool(x: Value, k: number, stride: number, pad: number): Value {
    const y = this.#g.node("MaxPool", [x.name], {
      kernel_shape: { ints: [k, k] },
      strides: { ints: [stride, stride] },
      pads: { ints: [pad, pad, pad, pad] },
    });
    return { name: y, c: x.c, h: convOut(x.h, k, stride, pad), w: convOut(x.w, k, stride, pad) };
  }

  addRelu(a: Value, b: Value, key: string): Value {
    const y = this.#g.node("Relu", [this.#g.node("Add", [a.name, b.name])]);
    return this.#site(key, { ...a, name: y });
  }

  upConv(x: Value, s: ConvSpec): Value {
    const g = this.#g;
    const weight = g.initializer(`${s.key}.weight`, [s.cin, s.cout, s.k, s.k], s.weight);
    const bias = g.initializer(`${s.key}.bias`, [s.cout], s.bias);
    const y = g.node("ConvTranspose", [x.name, weight, bias], upConvAttributes(s));
    return this.#site(s.key, { name: y, c: s.cout, h: x.h * s.stride, w: x.w * s.stride });
  }

  concat(a: Value, b: Value, key: string): Value {
    const y = this.#g.node("Concat", [a.name, b.name], { axis: { int: 1 } });
    return this.#site(key, { name: y, c: a.c + b.c, h: a.h, w: a.w });
  }

  output(x: Value, name: string): string {
    const y = this.#g.node("Identity", [x.name], {}, name);
    return this.#g.output(y, ["N", x.c, x.h, x.w]);
  }

  classifierHead(x: Value, output: string, fc: DenseSpec): string {
    const g = this.#g;
    const pooled = this.#site("gap", { name: g.node("GlobalAveragePool", [x.name]), c: x.c, h: 1, w: 1 });
    const flat = g.node("Flatten", [pooled.name], { axis: { int: 1 } });
    const w = g.initializer("fc.weight", [fc.classes, fc.features], fc.weight);
    const b = g.initializer("fc.bias", [fc.classes], fc.bias);
    return g.output(g.node("Gemm", [flat, w, b], { transB: { int: 1 } }, output), ["N", fc.classes]);
  }

  #site(key: string, v: Value): Value {
    if (this.#probe) {
      this.#g.output(v.name, ["N", v.c, v.h, v.w]);
      this.sites.set(key, v.name);
    }
    return v;
  }
}

export function convAttributes(s: ConvSpec) {
  return {
    kernel_shape: { ints: [s.k, s.k] },
    strides: { ints: [s.stride, s.stride] },
    pads: { ints: [s.pad, s.pad, s.pad, s.pad] },
  };
}

export function upConvAttributes(s: ConvSpec) {
  return { kernel_shape: { ints: [s.k, s.k] }, strides: { ints: [s.stride, s.stride] } };
}
