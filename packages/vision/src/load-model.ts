import { availableParallelism } from "node:os";
import { KensaError } from "@kensa/contracts";
import * as ort from "onnxruntime-node";

/** A float tensor as plain data: row-major values and their shape. */
export interface TensorData {
  data: Float32Array;
  dims: readonly number[];
}

/** An ONNX model loaded into ONNX Runtime, reduced to what Kensa calls. */
export interface ModelRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** runs one inference; `fetch` limits the outputs computed and returned (default: all) */
  run(feeds: Record<string, TensorData>, fetch?: readonly string[]): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}

export interface LoadModelOptions {
  /** threads for one inference; default: the cores this process may use */
  intraOpThreads?: number;
  /**
   * let ONNX Runtime's worker threads busy-wait between the operators of an inference (ORT's own
   * default; on by default here too). Off, every parallel operator has to wake a sleeping
   * worker: measured on 2 cores, ResNet18 fp32 takes 16.7 ms per frame with it off — no better
   * than one thread — against 8.8 ms with it on (int8: 5.6 vs 3.3 ms). Turn it off where a
   * second busy process must not lose those cycles (the hub evaluates models beside other work).
   */
  spinning?: boolean;
}

/**
 * Loads an ONNX model — its bytes, or the path of its file — on the CPU execution provider with
 * every graph optimisation on. A path lets ONNX Runtime read the file itself, so no copy of
 * the weights waits in the JS heap for a garbage collection (46 MB for ResNet18).
 * Throws KENSA_ERR_MODEL_INVALID_ONNX when ONNX Runtime cannot load it.
 */
export async function loadModel(model: Uint8Array | string, opts: LoadModelOptions = {}): Promise<ModelRunner> {
  let session: ort.InferenceSession;
  try {
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: opts.intraOpThreads ?? availableParallelism(),
      // frames arrive one at a time; inter-op parallelism only adds thread wake-ups
      executionMode: "sequential",
      extra: { session: { intra_op: { allow_spinning: opts.spinning === false ? "0" : "1" } } },
    };
    session =
      typeof model === "string"
        ? await ort.InferenceSession.create(model, options)
        : await ort.InferenceSession.create(model, options);
  } catch (err) {
    throw new KensaError("KENSA_ERR_MODEL_INVALID_ONNX", `ONNX Runtime cannot load the model: ${messageOf(err)}`);
  }
  return new OrtRunner(session);
}

class OrtRunner implements ModelRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  #session: ort.InferenceSession;
  #released = false;

  constructor(session: ort.InferenceSession) {
    this.#session = session;
    this.inputNames = Object.freeze([...session.inputNames]);
    this.outputNames = Object.freeze([...session.outputNames]);
  }

  async run(feeds: Record<string, TensorData>, fetch?: readonly string[]): Promise<Record<string, TensorData>> {
    if (this.#released) throw new Error("ModelRunner.run after release()");
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor("float32", t.data, t.dims);
    const out = fetch ? await this.#session.run(ortFeeds, [...fetch]) : await this.#session.run(ortFeeds);
    const result: Record<string, TensorData> = {};
    for (const [name, t] of Object.entries(out))
      result[name] = { data: toFloat32(t), dims: Object.freeze([...t.dims]) };
    return result;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#session.release();
  }
}

/**
 * Models exported elsewhere may emit int64, double or fp16 outputs (sklearn-onnx labels, fp16
 * conversions); callers always see float32.
 */
function toFloat32(t: ort.Tensor): Float32Array {
  const d = t.data;
  if (d instanceof Float32Array) return d;
  // ORT hands fp16 over as the raw 16-bit patterns
  if (t.type === "float16" && d instanceof Uint16Array) return Float32Array.from(d, halfToFloat);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float32Array.from(d, (v) => Number(v));
  if (Array.isArray(d)) throw new Error(`output of type ${t.type} is not numeric`);
  return Float32Array.from(d as ArrayLike<number>);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
