import type { ElementType } from "./graph-builder.js";
import { GraphBuilder } from "./graph-builder.js";

/** One output of a fixed-output model: its name, shape and row-major values. */
export interface FixedOutput {
  name: string;
  dims: readonly number[];
  values: ArrayLike<number>;
  /** element type; float by default (torchvision's labels are int64) */
  type?: "float" | "int64";
}

export interface FixedOutputModelOptions {
  /** input name, Ultralytics' "images" by default */
  input?: string;
  width: number;
  height: number;
  outputs: readonly FixedOutput[];
}

/**
 * A model that reads a [1,3,H,W] image and always answers with the given outputs: each is
 * constant + 0 × mean(image), so ONNX Runtime really runs the graph (nothing folds away) yet
 * the values are exactly those given. Lets tests check decoding, NMS and coordinate mapping
 * of detector and segmenter layouts against hand-computed expectations, through the real
 * runtime and the real preprocessing.
 */
export function buildFixedOutputModel(opts: FixedOutputModelOptions): Uint8Array {
  const g = new GraphBuilder("kensa-fixed-output");
  const image = g.input(opts.input ?? "images", [1, 3, opts.height, opts.width]);
  const flat = g.node("Flatten", [image], { axis: { int: 1 } });
  // [1,1]: broadcasts onto any output of rank ≥ 2 without changing its shape
  const zero = g.node("Mul", [
    g.node("ReduceMean", [flat], { axes: { ints: [1] }, keepdims: { int: 1 } }),
    g.initializer("zero", [], [0]),
  ]);
  for (const [i, o] of opts.outputs.entries()) {
    if (o.dims.length < 2) throw new RangeError(`fixed output ${o.name}: rank ≥ 2 needed, got [${o.dims}]`);
    const values = g.initializer(`values_${i}`, o.dims, o.values);
    const type: ElementType = o.type ?? "float";
    if (type === "float") {
      g.output(g.node("Add", [values, zero], {}, o.name), o.dims);
    } else {
      const sum = g.node("Add", [values, zero]);
      // TensorProto INT64 = 7
      g.output(g.node("Cast", [sum], { to: { int: 7 } }, o.name), o.dims, "int64");
    }
  }
  return g.toBytes({ docString: "Kensa test fixture: fixed outputs" });
}

/** One YOLOv8 candidate: centre, size (model-input px) and one score per class. */
export interface YoloCandidate {
  cx: number;
  cy: number;
  w: number;
  h: number;
  scores: readonly number[];
}

/**
 * A stand-in for an Ultralytics YOLOv8/11 detection export: input "images" [1,3,H,W],
 * output "output0" [1, 4 + nc, N] channel-major — rows cx, cy, w, h, then one row of class
 * scores per class, one column per candidate — exactly the layout Ultralytics writes.
 */
export function buildYoloV8Model(opts: { width: number; height: number; candidates: readonly YoloCandidate[] }) {
  const n = opts.candidates.length;
  const nc = opts.candidates[0]?.scores.length ?? 0;
  if (n === 0 || nc === 0) throw new RangeError("YOLOv8 fixture: at least one candidate and one class");
  const rows = 4 + nc;
  const values = new Float32Array(rows * n);
  for (const [j, c] of opts.candidates.entries()) {
    if (c.scores.length !== nc) throw new RangeError(`YOLOv8 fixture: candidate ${j} has ${c.scores.length} scores`);
    const column = [c.cx, c.cy, c.w, c.h, ...c.scores];
    for (let r = 0; r < rows; r++) values[r * n + j] = column[r]!;
  }
  return buildFixedOutputModel({
    width: opts.width,
    height: opts.height,
    outputs: [{ name: "output0", dims: [1, rows, n], values }],
  });
}
