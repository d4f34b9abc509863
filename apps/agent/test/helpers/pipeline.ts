import { join } from "node:path";
import { Inferencer } from "@kensa/vision";
import { buildBlemishModel } from "@kensa/vision/graph";
import type { LoadedBundle } from "../../src/inference/model.js";
import { Pipeline } from "../../src/inference/pipeline.js";
import { Logger } from "../../src/logger.js";
import { openAgentDb } from "../../src/storage/agent-db.js";
import { MediaQueue } from "../../src/storage/media-queue.js";
import { Outbox } from "../../src/storage/outbox.js";

export interface TestPipelines {
  pipelines: Map<string, Pipeline>;
  outbox: Outbox;
  /** events in the outbox, oldest first */
  events(): Array<{ sourceId: string; pipeline: string; frame: { meta: Record<string, unknown> } }>;
  /** A real ONNX model (the blemish classifier) as a loaded bundle. */
  loadModel(): Promise<LoadedBundle>;
  close(): Promise<void>;
}

/** Real pipelines over a real SQLite outbox in `dataDir`, none with a model yet. */
export function openPipelines(dataDir: string, ids: string[], queueSize = 16): TestPipelines {
  const db = openAgentDb(dataDir);
  const outbox = new Outbox(db, new MediaQueue(db, join(dataDir, "media")));
  const logger = new Logger("error", {}, () => undefined);
  const pipelines = new Map(ids.map((id) => [id, new Pipeline({ id, deviceId: "cam-1", outbox, logger, queueSize })]));
  return {
    pipelines,
    outbox,
    events: () => outbox.peek(0, 100_000).map((r) => JSON.parse(r.payload)),
    loadModel: async () => {
      const { onnx, manifest } = buildBlemishModel();
      return {
        model: await Inferencer.create(onnx, manifest),
        bundle: { sha256: "b".repeat(64), modelVersionId: "mv-1" },
        manifest,
      };
    },
    close: async () => {
      for (const p of pipelines.values()) {
        await p.idle();
        await p.swap(null);
      }
      db.close();
    },
  };
}
