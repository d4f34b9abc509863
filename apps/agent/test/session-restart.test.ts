import type { Reported } from "@kensa/contracts";
import { tempDir, waitFor } from "@kensa/testkit";
import { Inferencer } from "@kensa/vision";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "../src/agent.js";
import { loadAgentConfig } from "../src/config.js";
import { Logger } from "../src/logger.js";
import type { InferenceModel, ModelLoader } from "../src/model.js";
import { startBroker, type TestBroker } from "./helpers/broker.js";
import { startHubHttp, type TestHub } from "./helpers/hub-http.js";
import { type DeviceWatcher, desired, watchDevice } from "./helpers/watcher.js";

const quiet = new Logger("error", {}, () => undefined);

describe("agent: an inference session that dies comes back (injected loader)", () => {
  let broker: TestBroker;
  let hub: TestHub;
  let watcher: DeviceWatcher;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let agent: RunningAgent | undefined;

  beforeAll(async () => {
    dir = await tempDir();
    broker = await startBroker({ "cam-s": "s3cret", hub: "hub" });
    hub = await startHubHttp("cam-s", "s3cret");
    watcher = await watchDevice(broker.url, "cam-s", "hub", "hub");
  });
  afterAll(async () => {
    await agent?.stop();
    await watcher?.close();
    await broker?.close();
    await hub?.stop();
    await dir?.remove();
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
    const bundle = hub.addBundle("mv-s");
    await watcher.setDesired(desired(1, bundle.ref));
    agent = await startAgent(
      loadAgentConfig({
        deviceId: "cam-s",
        secret: "s3cret",
        hubUrl: hub.url,
        mqttUrl: broker.url,
        dataDir: dir.path,
        sources: [{ id: "line", type: "synthetic", fps: 20, seed: 5, defectRate: 0.2 }],
        inferenceRestart: { backoffMs: 200 },
        reportIntervalMs: 1000,
        status: { port: 0 },
      }),
      { logger: quiet, loadModel },
    );
    const session = (r: Reported | undefined) => r?.pipelines[0]?.session;
    const backoff = await waitFor("a reported restart", () =>
      watcher.reported.find((r) => session(r)?.state === "backoff"),
    );
    expect(session(backoff)).toMatchObject({
      restarts: 1,
      error: { code: "KENSA_ERR_INFERENCE_SESSION_FAILED", message: expect.stringMatching(/Conv node/) },
    });
    const back = await waitFor("the session running again", () =>
      watcher.reported.find((r) => session(r)?.state === "running" && session(r)?.restarts === 1),
    );
    expect(back.pipelines[0]).toMatchObject({ status: "loaded", bundle: { sha256: bundle.ref.sha256 } });
    const after = watcher.events.length;
    await waitFor("events after the restart", () => watcher.events.length >= after + 10);
    expect(loads).toBe(2);
    const s = agent.stats();
    expect(s.framesFailed).toBe(1);
    // seqs stay gap-free across the restart: the failed frame never became an event
    const seqs = watcher.events.map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });
});
