import { Inferencer } from "@kensa/vision";
import type { ModelLoader } from "./model.js";

/**
 * The agent's model runtime: ONNX Runtime through @kensa/vision, one session per model reused
 * for every frame, with intra-op threads = the cores the process may use unless configured.
 */
export function onnxModelLoader(intraOpThreads?: number): ModelLoader {
  return (model, manifest) =>
    Inferencer.create(model, manifest, intraOpThreads !== undefined ? { intraOpThreads } : undefined);
}
