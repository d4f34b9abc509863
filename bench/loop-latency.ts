/** The walking skeleton's latencies: agent inference and frame captured → event stored. */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { StoredEvent } from "@kensa/contracts";
import { createHub } from "@kensa/hub";
import { renderFrame } from "@kensa/synth";
import { spawnAgent, tempDir, waitFor } from "@kensa/testkit";
import { Classifier, percentile } from "@kensa/vision";
import { buildBlemishModel } from "@kensa/vision/graph";
import { HubClient } from "../apps/cli/src/hub-client.js";
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
  const hub = await createHub({
    dataDir: join(dir.path, "hub"),
    http: { host: "127.0.0.1", port: 0 },
    mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: 0 } },
    logLevel: "warn",
  });
  const agentDir = join(dir.path, "agent");
  let agent: Awaited<ReturnType<typeof spawnAgent>> | undefined;
  try {
    const { httpUrl } = await hub.start();
    const api = new HubClient(httpUrl, hub.adminToken);
    const project = await api.createProject({
      slug: "bench",
      name: "bench",
      task: "classification",
      labels: ["ok", "defect"],
      okLabels: ["ok"],
    });
    const m = buildBlemishModel();
    const v = await api.pushModel(project.id, m.onnx, m.manifest);
    const e = await api.enrollDevice({ projectId: project.id, id: "bench-cam" });
    await mkdir(agentDir, { recursive: true });
    agent = await spawnAgent(
      {
        deviceId: "bench-cam",
        hubUrl: e.hubUrl,
        mqttUrl: e.mqttUrl,
        dataDir: agentDir,
        sources: [{ id: "synthetic", type: "synthetic", fps: 10, seed: 3, defectRate: 0.3 }],
        status: { port: 0 },
      },
      join(agentDir, "agent.json"),
      { KENSA_DEVICE_SECRET: e.secret, KENSA_LOG_LEVEL: "warn" },
    );
    await api.deploy({ modelVersionId: v.id, target: { deviceIds: ["bench-cam"], tags: [] } });
    const read = async () => {
      const res = await fetch(`${httpUrl}/api/v1/events?deviceId=bench-cam&limit=10000`, {
        headers: { authorization: `Bearer ${hub.adminToken}` },
      });
      return ((await res.json()) as { items: StoredEvent[] }).items;
    };
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
    await agent?.kill("SIGTERM");
    await hub.close();
    await dir.remove();
  }
}
