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

  /** Declares an existing value as a float32 graph output. */
  output(name: string, dims: readonly Dim[]): string {
    if (!this.#names.has(name)) throw new Error(`graph ${this.name}: no value named ${name}`);
    this.#outputs.push(valueInfo(name, dims));
    return name;
  }

  /** A float32 constant, row-major; returns its name. */
  initializer(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    this.#claim(name);
    const data = Float32Array.from(values);
    checkSize(name, dims, data.length);
    this.#initializers.push({
      name,
      dims: [...dims],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: littleEndianBytes(data),
    });
    return name;
  }

  /** An int64 constant (shapes, pads); returns its name. */
  int64Initializer(name: string, dims: readonly number[], values: readonly number[]): string {
    this.#claim(name);
    checkSize(name, dims, values.length);
    this.#initializers.push({
      name,
      dims: [...dims],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: littleEndianBytes(BigInt64Array.from(values, (v) => BigInt(v))),
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

function valueInfo(name: string, dims: readonly Dim[]): proto.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
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
function littleEndianBytes(values: Float32Array | BigInt64Array): Uint8Array {
  const size = values.BYTES_PER_ELEMENT;
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((v: number | bigint, i: number) => {
    if (typeof v === "bigint") view.setBigInt64(i * size, v, true);
    else view.setFloat32(i * size, v, true);
  });
  return out;
}
