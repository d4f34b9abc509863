import { join } from "node:path";
import { KensaClient } from "@kensa/client";
import {
  fleetRoutes,
  type Incident,
  incidentRoutes,
  type ModelManifest,
  PROJECT_RULE_ID,
  projectRoutes,
  registryRoutes,
  type StoredEvent,
  withProjectRule,
} from "@kensa/contracts";
import { createHub } from "@kensa/hub";
import { type AgentProcess, spawnAgent, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { buildFixedOutputModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * "Is this frame worth a person?" is decided once, on the device, with the project's rule
 * compiled into the bundle: the model here always scores "defect" 0.7 while its own threshold
 * is 0.9, so before the rule travelled with the bundle the hub raised incidents (rule 0.6)
 * for frames the device never uploaded.
 */
describe("one incident decision", () => {
  const manifest: ModelManifest = {
    task: "classification",
    input: { name: "images", width: 16, height: 16, channels: 3, layout: "NCHW" },
    preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    labels: ["ok", "defect"],
    okLabels: ["ok"],
    postprocessing: { type: "classification", activation: "none", output: "scores" },
    thresholds: { default: 0.9, perClass: {} },
  };

  it("compiles the project's rule into the manifest, unless the model brings rules of its own", () => {
    const rule = { type: "threshold" as const, labels: [], minScore: 0.6 };
    const compiled = withProjectRule(manifest, rule, { okLabels: ["ok"] });
    expect(compiled.rules).toEqual([
      {
        id: PROJECT_RULE_ID,
        name: "threshold: defect ≥ 0.60",
        type: "threshold",
        labels: ["defect"],
        minScore: 0.6,
        topClassOnly: true,
      },
    ]);
    // labels the model does not know cannot fire; a rule no label can fire is left out
    expect(withProjectRule(manifest, { ...rule, labels: ["dent"] }, { okLabels: ["ok"] }).rules).toBeUndefined();
    const own = { ...manifest, rules: [{ id: "mine", name: "mine", type: "threshold" as const, minScore: 0.2 }] };
    expect(withProjectRule(own, rule, { okLabels: ["ok"] })).toBe(own);
  });

  describe("with a real hub and agent", () => {
    let dir: TempDir;
    let hub: Awaited<ReturnType<typeof createHub>>;
    let api: KensaClient;
    let agent: AgentProcess | undefined;
    let projectId: string;

    const incidents = async () => (await api.call(incidentRoutes.list, { query: { projectId, limit: 1000 } })).items;
    const events = async () =>
      (await api.call(incidentRoutes.listEvents, { query: { deviceId: "cam-1", limit: 10000 } })).items;
    const loaded = async (sha: string) => {
      const d = await api.call(fleetRoutes.get, { params: { id: "cam-1" } });
      const p = d.reported?.pipelines.find((x) => x.id === "default");
      return p?.status === "loaded" && p.bundle?.sha256 === sha;
    };

    beforeAll(async () => {
      dir = await tempDir();
      hub = await createHub({
        dataDir: join(dir.path, "hub"),
        http: { host: "127.0.0.1", port: 0 },
        mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: 0 } },
        logLevel: "warn",
      });
      const urls = await hub.start();
      api = new KensaClient({ baseUrl: urls.httpUrl, auth: { kind: "bearer", token: hub.adminToken } });
      const project = await api.call(projectRoutes.create, {
        body: {
          slug: "decide-once",
          name: "Decide once",
          task: "classification",
          labels: ["ok", "defect"],
          okLabels: ["ok"],
          rule: { type: "threshold", labels: ["defect"], minScore: 0.6 },
        },
      });
      projectId = project.id;
      const onnx = buildFixedOutputModel({
        input: "images",
        width: 16,
        height: 16,
        outputs: [{ name: "scores", dims: [1, 2], values: [0.3, 0.7] }],
      });
      const form = new FormData();
      form.set("projectId", projectId);
      form.set("manifest", JSON.stringify(manifest));
      form.set("model", new Blob([Buffer.from(onnx)]), "fixed.onnx");
      const model = await api.call(registryRoutes.upload, { upload: form });
      const enrolled = await api.call(fleetRoutes.enroll, { body: { projectId, id: "cam-1", tags: ["line"] } });
      const dep = await api.call(fleetRoutes.createDeployment, {
        body: { modelVersionId: model.id, pipeline: "default", target: { deviceIds: [], tags: ["line"] } },
      });
      const config = {
        deviceId: "cam-1",
        hubUrl: enrolled.hubUrl,
        mqttUrl: enrolled.mqttUrl,
        dataDir: join(dir.path, "agent"),
        sources: [{ id: "synthetic", type: "synthetic", fps: 4, seed: 3, defectRate: 0.3 }],
        reportIntervalMs: 1000,
        status: { port: 0 },
      };
      agent = await spawnAgent(config, join(dir.path, "agent.json"), { KENSA_DEVICE_SECRET: enrolled.secret });
      await waitFor("the bundle loaded", () => loaded(dep.bundleSha256), { timeoutMs: 60_000 });
    }, 120_000);

    afterAll(async () => {
      const notable = agent?.logs.filter((l) => l.level === "error" || l.level === "stderr");
      if (notable?.length) console.log(notable.map((l) => JSON.stringify(l)).join("\n"));
      await agent?.kill("SIGKILL");
      await hub?.close();
      await dir?.remove();
    });

    it("raises an incident for every finding the device decided, each with its frame", async () => {
      await waitFor("5 incidents", async () => (await incidents()).length >= 5, { timeoutMs: 60_000 });
      const evs = await events();
      const findings = evs.filter((e) => e.result.finding);
      expect(findings.length).toBeGreaterThanOrEqual(5);
      // the device applied the project's rule (0.6), not the model's threshold (0.9)
      const scores = findings.map((e: StoredEvent) => (e.result.task === "classification" ? e.result.score : 0));
      expect(Math.min(...scores)).toBeCloseTo(0.7, 5);
      const raised = await incidents();
      expect([...new Set(raised.map((i: Incident) => i.rule))]).toEqual(["threshold: defect ≥ 0.60"]);
      // every incident gets its frame: the device uploads the frame of each finding
      await waitFor(
        "every incident has its frame",
        async () => {
          const now = await incidents();
          return now.filter((i) => raised.some((r) => r.id === i.id)).every((i) => i.mediaSha256 !== null);
        },
        { timeoutMs: 30_000 },
      );
    });

    it("a changed rule reaches the device in a new bundle, and then decides alone", async () => {
      await api.call(projectRoutes.update, {
        params: { id: projectId },
        body: { rule: { type: "threshold", labels: ["defect"], minScore: 0.8 } },
      });
      const deployments = async () =>
        (await api.call(fleetRoutes.listDeployments, { query: { projectId } })).items.sort((a, b) =>
          a.createdAt.localeCompare(b.createdAt),
        );
      await waitFor("a new deployment", async () => (await deployments()).length === 2, { timeoutMs: 20_000 });
      const latest = (await deployments()).at(-1)!;
      expect(latest.target).toEqual({ deviceIds: [], tags: ["line"] });
      await waitFor("the new bundle loaded", () => loaded(latest.bundleSha256), { timeoutMs: 60_000 });
      const before = (await incidents()).length;
      const seen = (await events()).length;
      await waitFor("10 more events", async () => (await events()).length >= seen + 10, { timeoutMs: 30_000 });
      const after = (await events()).filter((e) => e.bundleSha256 === latest.bundleSha256);
      expect(after.length).toBeGreaterThan(0);
      // 0.7 is below the new rule: no finding, no frame, no incident
      expect(after.every((e) => !e.result.finding && e.mediaSha256 === null)).toBe(true);
      expect((await incidents()).length).toBe(before);
    });
  });
});
