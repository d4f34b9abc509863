import onnxProto, { type onnx as proto } from "onnx-proto";

// onnx-proto is protobufjs-generated CommonJS: everything hangs off one `onnx` namespace
const { onnx } = onnxProto;

/** A tensor dimension: a size, or a name for a dynamic one (e.g. "N" for the batch). */
export type Dim = number | string;

/** An ONNX node attribute; the key says its ONNX type, since a JS number is both int and float. */
export type Attribute =
  | { int: number }
  | { ints: readonly number[] }
  | { float: number }
  | { floats: readonly number[] }
  | { string: string };

/** Element types of constants: float32 and the integer types quantized graphs need. */
export type ElementType = "float" | "int64" | "int32" | "int8" | "uint8";

const T = onnx.TensorProto.DataType;
const elementTypes: Record<ElementType, { code: number; size: number; min: number; max: number }> = {
  float: { code: T.FLOAT, size: 4, min: -Infinity, max: Infinity },
  int64: { code: T.INT64, size: 8, min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  int32: { code: T.INT32, size: 4, min: -(2 ** 31), max: 2 ** 31 - 1 },
  int8: { code: T.INT8, size: 1, min: -128, max: 127 },
  uint8: { code: T.UINT8, size: 1, min: 0, max: 255 },
};

const littleEndianHost = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** ONNX IR version 8 and the default-domain opset 13: what every ONNX Runtime since 1.10 loads. */
export const IR_VERSION = 8;
export const OPSET = 13;

/**
 * A small builder for float32 ONNX graphs: named inputs and outputs with shapes, float and
 * int64 initializers, and nodes from the default domain. Enough to hand-write models (the
 * blemish model) and test fixtures without Python.
 */
export class GraphBuilder {
  readonly name: string;
  #nodes: proto.INodeProto[] = [];
  #initializers: proto.ITensorProto[] = [];
  #inputs: proto.IValueInfoProto[] = [];
  #outputs: proto.IValueInfoProto[] = [];
  #names = new Set<string>();
  #counter = 0;

  constructor(name: string) {
    this.name = name;
  }

  /** Declares a float32 graph input; returns its name. */
  input(name: string, dims: readonly Dim[]): string {
    this.#claim(name);
    this.#inputs.push(valueInfo(name, dims));
    return name;
  }

  /** Declares an existing value as a graph output, float32 unless told (int64 class indices). */
  output(name: string, dims: readonly Dim[], type: ElementType = "float"): string {
    if (!this.#names.has(name)) throw new Error(`graph ${this.name}: no value named ${name}`);
    this.#outputs.push(valueInfo(name, dims, elementTypes[type].code));
    return name;
  }

  /** A float32 constant, row-major; returns its name. */
  initializer(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    return this.constant(name, "float", dims, values);
  }

  /** An int64 constant (shapes, pads); returns its name. */
  int64Initializer(name: string, dims: readonly number[], values: readonly number[]): string {
    return this.constant(name, "int64", dims, values);
  }

  /**
   * A constant of any element type Kensa's graphs use (int8 weights, uint8 zero points, int32
   * biases of quantized graphs), row-major; `dims` [] for a scalar. Integers are rounded and
   * must fit the type. Returns its name.
   */
  constant(name: string, type: ElementType, dims: readonly number[], values: ArrayLike<number>): string {
    this.#claim(name);
    checkSize(name, dims, values.length);
    this.#initializers.push({
      name,
      dims: [...dims],
      dataType: elementTypes[type].code,
      rawData: littleEndianBytes(name, type, values),
    });
    return name;
  }

  /** Adds a node with one output and returns the output's name (generated unless given). */
  node(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, output?: string): string {
    for (const i of inputs) {
      // "" is ONNX's marker for an omitted optional input
      if (i !== "" && !this.#names.has(i)) throw new Error(`graph ${this.name}: ${opType} reads unknown value ${i}`);
    }
    const out = output ?? `${opType.toLowerCase()}_${this.#counter++}`;
    this.#claim(out);
    this.#nodes.push({
      name: out,
      opType,
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attributes).map(([name, a]) => attribute(name, a)),
    });
    return out;
  }

  /** Serialises the model as ONNX protobuf bytes. */
  toBytes(meta: { producer?: string; docString?: string } = {}): Uint8Array {
    if (this.#outputs.length === 0) throw new Error(`graph ${this.name}: no outputs`);
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: "", version: OPSET }],
      producerName: meta.producer ?? "kensa",
      docString: meta.docString ?? "",
      graph: {
        name: this.name,
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  #claim(name: string): void {
    if (this.#names.has(name)) throw new Error(`graph ${this.name}: ${name} is defined twice`);
    this.#names.add(name);
  }
}

function valueInfo(name: string, dims: readonly Dim[], elemType: number = T.FLOAT): proto.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, a: Attribute): proto.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ("int" in a) return { name, type: T.INT, i: a.int };
  if ("ints" in a) return { name, type: T.INTS, ints: [...a.ints] };
  if ("float" in a) return { name, type: T.FLOAT, f: a.float };
  if ("floats" in a) return { name, type: T.FLOATS, floats: [...a.floats] };
  return { name, type: T.STRING, s: new TextEncoder().encode(a.string) };
}

function checkSize(name: string, dims: readonly number[], n: number): void {
  const want = dims.reduce((a, b) => a * b, 1);
  if (want !== n) throw new Error(`initializer ${name}: dims [${dims}] need ${want} values, got ${n}`);
}

/** ONNX raw_data is little-endian; copy through a DataView so big-endian hosts are right too. */
function littleEndianBytes(name: string, type: ElementType, values: ArrayLike<number>): Uint8Array {
  const { size, min, max } = elementTypes[type];
  // the common case (float weights on a little-endian host) as one copy: ResNet18 has 11.7M
  if (type === "float" && values instanceof Float32Array && littleEndianHost) {
    return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  }
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (type === "float") {
      view.setFloat32(i * size, v, true);
      continue;
    }
    const n = Math.round(v);
    if (!(n >= min && n <= max)) throw new Error(`initializer ${name}: ${v} does not fit ${type}`);
    if (type === "int64") view.setBigInt64(i * size, BigInt(n), true);
    else if (type === "int32") view.setInt32(i * size, n, true);
    else if (type === "int8") view.setInt8(i * size, n);
    else view.setUint8(i * size, n);
  }
  return out;
}
