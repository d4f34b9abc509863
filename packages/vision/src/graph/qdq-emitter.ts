import type { GraphBuilder } from "./graph-builder.js";
import {
  type ConvSpec,
  convAttributes,
  convOut,
  type DenseSpec,
  type NetEmitter,
  upConvAttributes,
  type Value,
} from "./net-emitter.js";

/** The observed range of an activation, from calibration. */
export interface QuantRange {
  min: number;
  max: number;
}

/**
 * Int8 layers in ONNX's QDQ format — QuantizeLinear/DequantizeLinear pairs around float ops —
 * laid out the way ONNX Runtime's QDQ selectors fuse them on CPU:
 * DQ(x u8) + DQ(w s8, per channel) + DQ(bias s32) → Conv [→ Relu] → Q(u8) becomes one
 * QLinearConv (the Relu folds into a Q whose zero point is 0); DQ + DQ → Add → Relu → Q becomes
 * QLinearAdd; Concat becomes QLinearConcat; MaxPool runs on the uint8 values directly.
 * ConvTranspose is not fused by the CPU provider (its QLinearConvTranspose serves XNNPACK
 * only): it runs in float between its DQ and Q, which costs little for 2×2 kernels. Activations are uint8 (the U8S8 path
 * MLAS is fastest at on x86), weights int8 symmetric per output channel.
 */
export class QdqEmitter implements NetEmitter {
  #g: GraphBuilder;
  #ranges: ReadonlyMap<string, QuantRange>;

  constructor(g: GraphBuilder, ranges: ReadonlyMap<string, QuantRange>) {
    this.#g = g;
    this.#ranges = ranges;
  }

  input(name: string, c: number, h: number, w: number): Value {
    return this.#quantize({ name: this.#g.input(name, ["N", c, h, w]), c, h, w }, "input");
  }

  conv(x: Value, s: ConvSpec, relu: boolean): Value {
    const [weight, bias] = this.#weights(x, s, false);
    let y = this.#g.node("Conv", [x.name, weight, bias], convAttributes(s));
    if (relu) y = this.#g.node("Relu", [y]);
    const h = convOut(x.h, s.k, s.stride, s.pad);
    const w = convOut(x.w, s.k, s.stride, s.pad);
    return this.#quantize({ name: y, c: s.cout, h, w }, s.key);
  }

  upConv(x: Value, s: ConvSpec): Value {
    const [weight, bias] = this.#weights(x, s, true);
    const y = this.#g.node("ConvTranspose", [x.name, weight, bias], upConvAttributes(s));
    return this.#quantize({ name: y, c: s.cout, h: x.h * s.stride, w: x.w * s.stride }, s.key);
  }

  concat(a: Value, b: Value, key: string): Value {
    const y = this.#g.node("Concat", [a.name, b.name], { axis: { int: 1 } });
    return this.#quantize({ name: y, c: a.c + b.c, h: a.h, w: a.w }, key);
  }

  output(x: Value, name: string): string {
    const y = this.#g.node("Identity", [x.name], {}, name);
    return this.#g.output(y, ["N", x.c, x.h, x.w]);
  }

  maxPool(x: Value, k: number, stride: number, pad: number): Value {
    const q = x.q;
    if (!q) throw new Error("qdq: max pool of an unquantized value");
    const y = this.#g.node("MaxPool", [x.name], {
      kernel_shape: { ints: [k, k] },
      strides: { ints: [stride, stride] },
      pads: { ints: [pad, pad, pad, pad] },
    });
    // max commutes with a monotonic quantization: same scale and zero point out as in
    const g = this.#g;
    const quantized = g.node("QuantizeLinear", [y, q.scaleName, q.zeroPointName]);
    const name = g.node("DequantizeLinear", [quantized, q.scaleName, q.zeroPointName]);
    return { name, c: x.c, h: convOut(x.h, k, stride, pad), w: convOut(x.w, k, stride, pad), q };
  }

  addRelu(a: Value, b: Value, key: string): Value {
    const y = this.#g.node("Relu", [this.#g.node("Add", [a.name, b.name])]);
    return this.#quantize({ ...a, name: y }, key);
  }

  classifierHead(x: Value, output: string, fc: DenseSpec): string {
    const g = this.#g;
    const pooled = this.#quantize({ name: g.node("GlobalAveragePool", [x.name]), c: x.c, h: 1, w: 1 }, "gap");
    const flat = g.node("Flatten", [pooled.name], { axis: { int: 1 } });
    const w = g.initializer("fc.weight", [fc.classes, fc.features], fc.weight);
    const b = g.initializer("fc.bias", [fc.classes], fc.bias);
    return g.output(g.node("Gemm", [flat, w, b], { transB: { int: 1 } }, output), ["N", fc.classes]);
  }

  /**
   * DequantizeLinear of the weights, int8 symmetric per output channel (axis 0 of a conv's
   * [cout, cin, k, k], axis 1 of a transposed conv's [cin, cout, k, k]), and of the bias, int32
   * at scale input × weight scale because it is added to the int32 accumulator.
   */
  #weights(x: Value, s: ConvSpec, transposed: boolean): [string, string] {
    const g = this.#g;
    const xq = x.q;
    if (!xq) throw new Error(`qdq: ${s.key} reads an unquantized value`);
    const kk = s.k * s.k;
    const channelOf = transposed
      ? (i: number) => Math.floor(i / kk) % s.cout
      : (i: number) => Math.floor(i / (s.cin * kk));
    const max = new Float32Array(s.cout);
    for (let i = 0; i < s.weight.length; i++) {
      const o = channelOf(i);
      max[o] = Math.max(max[o]!, Math.abs(s.weight[i]!));
    }
    // symmetric [-127, 127]: zero point 0, which the int8 GEMM kernels require of weights
    const wScale = max.map((m) => (m > 0 ? m / 127 : 1));
    const wq = new Int8Array(s.weight.length);
    for (let i = 0; i < s.weight.length; i++) wq[i] = Math.round(s.weight[i]! / wScale[channelOf(i)]!);
    const weight = g.node(
      "DequantizeLinear",
      [
        g.constant(`${s.key}.weight_q`, "int8", transposed ? [s.cin, s.cout, s.k, s.k] : [s.cout, s.cin, s.k, s.k], wq),
        g.initializer(`${s.key}.weight_scale`, [s.cout], wScale),
        g.constant(`${s.key}.weight_zero_point`, "int8", [s.cout], new Int8Array(s.cout)),
      ],
      { axis: { int: transposed ? 1 : 0 } },
    );
    const bScale = wScale.map((ws) => ws * xq.scale);
    const bias = g.node(
      "DequantizeLinear",
      [
        g.constant(
          `${s.key}.bias_q`,
          "int32",
          [s.cout],
          s.bias.map((b, o) => Math.round(b / bScale[o]!)),
        ),
        g.initializer(`${s.key}.bias_scale`, [s.cout], bScale),
        g.constant(`${s.key}.bias_zero_point`, "int32", [s.cout], new Int32Array(s.cout)),
      ],
      { axis: { int: 0 } },
    );
    return [weight, bias];
  }

  /** Q → DQ with the site's calibrated uint8 parameters; the range always includes 0. */
  #quantize(v: Value, key: string): Value {
    const r = this.#ranges.get(key);
    if (!r) throw new Error(`qdq: no calibration range for ${key}`);
    const lo = Math.min(0, r.min);
    const hi = Math.max(0, r.max);
    const scale = hi > lo ? (hi - lo) / 255 : 1;
    const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
    const g = this.#g;
    const scaleName = g.initializer(`${key}.act_scale`, [], [scale]);
    const zeroPointName = g.constant(`${key}.act_zero_point`, "uint8", [], [zeroPoint]);
    const quantized = g.node("QuantizeLinear", [v.name, scaleName, zeroPointName]);
    const name = g.node("DequantizeLinear", [quantized, scaleName, zeroPointName]);
    return { ...v, name, q: { scale, zeroPoint, scaleName, zeroPointName } };
  }
}
