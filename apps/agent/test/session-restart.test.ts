import type { Reported } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { Inferencer } from "@kensa/vision";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "../src/agent.js";
import { loadAgentConfig } from "../src/config.js";
import type { InferenceModel, ModelLoader } from "../src/inference/model.js";
import { Logger } from "../src/logger.js";
import { deviceBed } from "./helpers/device-bed.js";
import { desired } from "./helpers/watcher.js";

const quiet = new Logger("error", {}, () => undefined);

describe("agent: an inference session that dies comes back (injected loader)", () => {
  const bed = deviceBed("cam-s", "s3cret");
  let agent: RunningAgent | undefined;

  afterAll(async () => {
    await agent?.stop();
  });

  it("restarts the session after ORT throws, reports it, and keeps inspecting", async () => {
    let loads = 0;
    let runs = 0;
    // the first session dies on its 10th frame, as a session whose native state went bad would
    const loadModel: ModelLoader = async (bytes, manifest) => {
      const inner = await Inferencer.create(bytes, manifest);
      const generation = ++loads;
      const model: InferenceModel = {
        prepare: (image) => inner.prepare(image),
        run: async (p) => {
          if (generation === 1 && ++runs === 10)
            throw new Error("Non-zero status code returned while running Conv node");
          return inner.run(p as Awaited<ReturnType<Inferencer["prepare"]>>);
        },
        infer: (i) => inner.infer(i),
        warmup: () => inner.warmup(),
        close: () => inner.close(),
      };
      return model;
    };
    const bundle = bed.hub.addBundle("mv-s");
    await bed.watcher.setDesired(desired(1, bundle.ref));
    agent = await startAgent(
      loadAgentConfig({
        deviceId: "cam-s",
        secret: "s3cret",
        hubUrl: bed.hub.url,
        mqttUrl: bed.broker.url,
        dataDir: bed.dir.path,
        sources: [{ id: "line", type: "synthetic", fps: 20, seed: 5, defectRate: 0.2 }],
        inferenceRestart: { backoffMs: 200 },
        reportIntervalMs: 1000,
        status: { port: 0 },
      }),
      { logger: quiet, loadModel },
    );
    const session = (r: Reported | undefined) => r?.pipelines[0]?.session;
    const backoff = await waitFor("a reported restart", () =>
      bed.watcher.reported.find((r) => session(r)?.state === "backoff"),
    );
    expect(session(backoff)).toMatchObject({
      restarts: 1,
      error: { code: "KENSA_ERR_INFERENCE_SESSION_FAILED", message: expect.stringMatching(/Conv node/) },
    });
    const back = await waitFor("the session running again", () =>
      bed.watcher.reported.find((r) => session(r)?.state === "running" && session(r)?.restarts === 1),
    );
    expect(back.pipelines[0]).toMatchObject({ status: "loaded", bundle: { sha256: bundle.ref.sha256 } });
    const after = bed.watcher.events.length;
    await waitFor("events after the restart", () => bed.watcher.events.length >= after + 10);
    expect(loads).toBe(2);
    const s = agent.stats();
    expect(s.framesFailed).toBe(1);
    // seqs stay gap-free across the restart: the failed frame never became an event
    const seqs = bed.watcher.events.map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });
});
