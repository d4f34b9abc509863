import { type InputStats, inputStatsOf, type ModelManifest } from "@kensa/contracts";
import type { Inferencer, PreparedFrame } from "@kensa/vision";
import type { InferenceModel, InferenceOutput } from "./model.js";

/** The statistics of a prepared frame's input tensor, as the hub computes them on its evaluation snapshot. */
export function frameInputStats(frame: Pick<PreparedFrame, "data">, manifest: ModelManifest): InputStats {
  return inputStatsOf(frame.data, manifest.input, manifest.preprocessing);
}

/** What `prepare` hands to `run`: the decoded tensor and its statistics. */
interface StatsPrepared {
  frame: PreparedFrame;
  input: InputStats;
}

/**
 * An Inferencer whose outputs carry the input statistics of their frame (`Event.input`, for
 * drift). They are taken in `prepare`, which the pipeline runs one frame ahead while the
 * previous frame is inferred, from at most INPUT_STATS_MAX_PIXELS pixels of the tensor the
 * model is given: tens of µs at most, measured in input-stats.test.ts.
 */
export class StatsInferencer implements InferenceModel {
  readonly #inf: Inferencer;

  constructor(inf: Inferencer) {
    this.#inf = inf;
  }

  async prepare(image: Uint8Array): Promise<StatsPrepared> {
    const frame = await this.#inf.prepare(image);
    return { frame, input: frameInputStats(frame, this.#inf.manifest) };
  }

  async run(prepared: unknown): Promise<InferenceOutput> {
    const p = prepared as StatsPrepared;
    return { ...(await this.#inf.run(p.frame)), input: p.input };
  }

  async infer(image: Uint8Array): Promise<InferenceOutput> {
    return this.run(await this.prepare(image));
  }

  warmup(): Promise<number> {
    return this.#inf.warmup();
  }

  close(): Promise<void> {
    return this.#inf.close();
  }
}
