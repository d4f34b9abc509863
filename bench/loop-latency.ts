/** The walking skeleton's latencies: agent inference and frame captured → event stored. */
import { join } from "node:path";
import { incidentRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import {
  createInspectionProject,
  deployToDevices,
  enrollAgents,
  pushBlemishModel,
  type ScenarioAgent,
  type ScenarioHub,
  startScenarioHub,
  syntheticCamera,
} from "@kensa/scenario";
import { renderFrame } from "@kensa/synth";
import { tempDir, waitFor } from "@kensa/testkit";
import { Classifier, percentile } from "@kensa/vision";
import { buildBlemishModel } from "@kensa/vision/graph";
import type { Row } from "./report.js";

const round = (x: number) => Math.round(x * 100) / 100;

export async function inferenceLatency(): Promise<Row[]> {
  const model = buildBlemishModel();
  const clf = await Classifier.create(model.onnx, model.manifest);
  await clf.warmup();
  const frames = await Promise.all(Array.from({ length: 100 }, (_, i) => renderFrame(i, { seed: 42 })));
  const total: number[] = [];
  const inference: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (const f of frames) {
      const r = await clf.infer(f.jpeg);
      total.push(r.latencyMs.total);
      inference.push(r.latencyMs.inference);
    }
  }
  await clf.close();
  return [
    {
      name: "agent inference, JPEG bytes → result (blemish CNN 64×64, 320×240 frames)",
      unit: "ms",
      p50: round(percentile(total, 50)),
      p95: round(percentile(total, 95)),
      n: total.length,
      notes: "decode + resize + normalise (sharp) and ONNX Runtime CPU, one session reused",
    },
    {
      name: "agent inference, ONNX Runtime only (blemish CNN 64×64)",
      unit: "ms",
      p50: round(percentile(inference, 50)),
      p95: round(percentile(inference, 95)),
      n: inference.length,
      notes: "session.run only",
    },
  ];
}

export async function frameToStoredEvent(seconds: number): Promise<Row> {
  const dir = await tempDir("kensa-bench-");
  let hub: ScenarioHub<Hub> | undefined;
  const agents: ScenarioAgent[] = [];
  try {
    hub = await startScenarioHub({
      createHub,
      dataDir: join(dir.path, "hub"),
    });
    const api = hub.client;
    const project = await createInspectionProject(api, { slug: "bench" });
    const v = await pushBlemishModel(api, project.id);
    agents.push(
      ...(await enrollAgents(api, project.id, [{ id: "bench-cam" }], {
        dir: dir.path,
        sources: [syntheticCamera(3, { fps: 10, defectRate: 0.3 })],
        env: { KENSA_LOG_LEVEL: "warn" },
      })),
    );
    await deployToDevices(api, v.id, ["bench-cam"]);
    const read = async () =>
      (await api.call(incidentRoutes.listEvents, { query: { deviceId: "bench-cam", limit: 10000 } })).items;
    await waitFor("first event", async () => (await read()).length > 0, { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, seconds * 1000));
    // skip the first events: they include model load and connection set-up
    const events = (await read()).slice(10);
    const lat = events.map((ev) => Date.parse(ev.receivedAt) - Date.parse(ev.ts));
    return {
      name: "frame captured → event stored at the hub (1 agent, 10 fps, embedded broker, SQLite)",
      unit: "ms",
      p50: round(percentile(lat, 50)),
      p95: round(percentile(lat, 95)),
      n: lat.length,
      notes: `includes inference, durable outbox, MQTT QoS 1, validation, idempotent insert and the incident rule; ${seconds} s run`,
    };
  } finally {
    await Promise.all(agents.map((a) => a.process.kill("SIGTERM")));
    await hub?.close();
    await dir.remove();
  }
}
