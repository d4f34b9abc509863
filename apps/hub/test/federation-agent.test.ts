import { join } from "node:path";
import {
  federationRoutes,
  fleetRoutes,
  incidentRoutes,
  type ModelManifest,
  projectRoutes,
  registryRoutes,
  trainingRoutes,
} from "@kensa/contracts";
import { type AgentProcess, spawnAgent, waitFor } from "@kensa/testkit";
import { buildFixedOutputModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHub, type TestHub } from "./helpers.js";

const manifest: ModelManifest = {
  task: "classification",
  input: { name: "images", width: 16, height: 16, channels: 3, layout: "NCHW" },
  preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
  labels: ["ok", "defect"],
  okLabels: ["ok"],
  postprocessing: { type: "classification", activation: "none", output: "scores" },
  thresholds: { default: 0.5, perClass: {} },
};
const project = {
  slug: "paint",
  name: "Paint",
  task: "classification" as const,
  labels: ["ok", "defect"],
  okLabels: ["ok"],
};

/**
 * A real agent behind a site hub: the model central approves is bundled by the site, loaded and
 * run by the agent, and the incidents it raises reach central naming central's model version.
 */
describe("a real agent behind a site hub", () => {
  let central: TestHub;
  let site: TestHub;
  let agent: AgentProcess | undefined;

  beforeAll(async () => {
    central = await startHub({ federation: { settleMs: 50 } });
    await central.client.call(projectRoutes.create, { body: project });
    const { token } = await central.client.call(federationRoutes.createSite, {
      body: { id: "plant-e", name: "Plant E", projects: ["paint"] },
    });
    site = await startHub({
      federation: {
        intervalSeconds: 0.3,
        settleMs: 50,
        central: { url: central.httpUrl, siteId: "plant-e", token },
      },
    });
    const local = await site.client.call(projectRoutes.create, { body: project });
    await site.client.call(trainingRoutes.updateSettings, {
      params: { id: local.id },
      body: { autoDeploy: { tags: ["line"] } },
    });
    const enrolled = await site.client.call(fleetRoutes.enroll, {
      body: { projectId: local.id, id: "paint-cam", tags: ["line"] },
    });
    const dir = site.dir.path;
    agent = await spawnAgent(
      {
        deviceId: "paint-cam",
        hubUrl: enrolled.hubUrl,
        mqttUrl: enrolled.mqttUrl,
        dataDir: join(dir, "agent"),
        sources: [{ id: "synthetic", type: "synthetic", fps: 2, seed: 3, defectRate: 0.5 }],
        reportIntervalMs: 1000,
        status: { port: 0 },
      },
      join(dir, "agent.json"),
      { KENSA_DEVICE_SECRET: enrolled.secret },
    );
  }, 120_000);
  afterAll(async () => {
    const notable = agent?.logs.filter((l) => l.level === "error" || l.level === "stderr");
    if (notable?.length) console.log(notable.map((l) => JSON.stringify(l)).join("\n"));
    await agent?.kill("SIGKILL");
    await site?.close();
    await central?.close();
  });

  it("runs the model central approved, and its incidents reach central", async () => {
    const projects = await central.client.call(projectRoutes.list, {});
    const form = new FormData();
    form.set("projectId", projects.items.find((p) => p.slug === "paint")!.id);
    form.set("manifest", JSON.stringify(manifest));
    const onnx = buildFixedOutputModel({
      input: "images",
      width: 16,
      height: 16,
      outputs: [{ name: "scores", dims: [1, 2], values: [0.1, 0.9] }],
    });
    form.set("model", new Blob([Buffer.from(onnx)]), "fixed.onnx");
    const model = await central.client.call(registryRoutes.upload, { upload: form });
    await central.client.call(registryRoutes.approve, {
      params: { id: model.id },
      body: { by: "qa", reason: "ok", deploy: true },
    });

    const loaded = await waitFor(
      "the agent running central's model",
      async () => {
        const d = await site.client.call(fleetRoutes.get, { params: { id: "paint-cam" } });
        const p = d.reported?.pipelines.find((x) => x.id === "default");
        return p?.status === "loaded" && p.bundle ? p.bundle : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const mine = await site.client.call(registryRoutes.get, { params: { id: loaded.modelVersionId } });
    expect(mine.source).toBe(`central:${model.id}`);

    const incidents = await waitFor(
      "the agent's incidents on central",
      async () => {
        const r = await central.client.call(incidentRoutes.list, { query: { limit: 100 } });
        const fromSite = r.items.filter((i) => i.site?.id === "plant-e");
        return fromSite.length > 0 ? fromSite : undefined;
      },
      { timeoutMs: 60_000 },
    );
    // central sees its own model version id, not the site's copy
    expect(incidents.every((i) => i.modelVersionId === model.id)).toBe(true);
  }, 150_000);
});
