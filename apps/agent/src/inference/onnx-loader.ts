import { Inferencer } from "@kensa/vision";
import { StatsInferencer } from "./input-stats.js";
import type { ModelLoader } from "./model.js";

/**
 * The agent's model runtime: ONNX Runtime through @kensa/vision, one session per model reused
 * for every frame, with intra-op threads = the cores the process may use unless configured.
 * Its outputs carry each frame's input statistics, for drift (input-stats.ts).
 */
export function onnxModelLoader(intraOpThreads?: number): ModelLoader {
  return async (model, manifest) =>
    new StatsInferencer(
      await Inferencer.create(model, manifest, intraOpThreads !== undefined ? { intraOpThreads } : undefined),
    );
}
