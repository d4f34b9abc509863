import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiError, KensaClient } from "@kensa/client";
import {
  deviceConfigRoutes,
  fleetRoutes,
  incidentRoutes,
  type ModelManifest,
  peopleRoutes,
  projectRoutes,
  registryRoutes,
} from "@kensa/contracts";
import { createHub } from "@kensa/hub";
import { type AgentProcess, spawnAgent, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { buildFixedOutputModel } from "@kensa/vision/graph";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Remote configuration with a real hub and a real agent process: the hub sets a config that
 * adds a second pipeline fed by a folder source; the agent starts it without restarting and
 * the pipeline gets the bundle deployed to it; an invalid config is refused at the hub; one
 * the agent cannot apply is refused by the agent, which keeps running the previous one.
 */
describe("remote device configuration", () => {
  const manifest: ModelManifest = {
    task: "classification",
    input: { name: "images", width: 16, height: 16, channels: 3, layout: "NCHW" },
    preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    labels: ["ok", "defect"],
    okLabels: ["ok"],
    postprocessing: { type: "classification", activation: "none", output: "scores" },
    thresholds: { default: 0.9, perClass: {} },
  };
  let dir: TempDir;
  let hub: Awaited<ReturnType<typeof createHub>>;
  let api: KensaClient;
  let agent: AgentProcess | undefined;
  let bundleSha: string;
  let lineA: string;
  let lineB: string;

  const device = () => api.call(fleetRoutes.get, { params: { id: "cam-1" } });
  const view = () => api.call(deviceConfigRoutes.getDeviceConfig, { params: { id: "cam-1" } });
  const setConfig = (config: Record<string, unknown>, comment?: string) =>
    api.call(deviceConfigRoutes.setDeviceConfig, {
      params: { id: "cam-1" },
      body: { config, ...(comment ? { comment } : {}) },
    });
  let projectId: string;
  let agentJson: Record<string, unknown>;
  const uploadModel = async (values: number[]) => {
    const onnx = buildFixedOutputModel({
      input: "images",
      width: 16,
      height: 16,
      outputs: [{ name: "scores", dims: [1, 2], values }],
    });
    const form = new FormData();
    form.set("projectId", projectId);
    form.set("manifest", JSON.stringify(manifest));
    form.set("model", new Blob([Buffer.from(onnx)]), "fixed.onnx");
    return (await api.call(registryRoutes.upload, { upload: form })).id;
  };
  const started = () => agent?.logs.filter((l) => l.msg === "agent started").length ?? 0;

  beforeAll(async () => {
    dir = await tempDir();
    lineA = join(dir.path, "line-a");
    lineB = join(dir.path, "line-b");
    for (const [folder, shade] of [
      [lineA, 40],
      [lineB, 200],
    ] as const) {
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < 3; i++) {
        const jpeg = await sharp({
          create: { width: 32, height: 32, channels: 3, background: { r: shade, g: shade + i, b: 90 } },
        })
          .jpeg()
          .toBuffer();
        writeFileSync(join(folder, `f${i}.jpg`), jpeg);
      }
    }
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
        slug: "remote-config",
        name: "Remote config",
        task: "classification",
        labels: ["ok", "defect"],
        okLabels: ["ok"],
      },
    });
    projectId = project.id;
    const model = { id: await uploadModel([0.8, 0.2]) };
    const enrolled = await api.call(fleetRoutes.enroll, {
      body: { projectId: project.id, id: "cam-1", tags: ["line"] },
    });
    // deployed to the second pipeline before the device runs one: it must load once the config adds it
    const dep = await api.call(fleetRoutes.createDeployment, {
      body: { modelVersionId: model.id, pipeline: "line-b", target: { deviceIds: ["cam-1"], tags: [] } },
    });
    bundleSha = dep.bundleSha256;
    agentJson = {
      deviceId: "cam-1",
      hubUrl: enrolled.hubUrl,
      mqttUrl: enrolled.mqttUrl,
      dataDir: join(dir.path, "agent"),
      sources: [{ id: "a", type: "folder", path: lineA, fps: 4 }],
      reportIntervalMs: 1000,
      frameUploadIntervalMs: 0,
      status: { port: 0 },
      // pinned on the device: the hub's value for this key is reported as overridden
      overrides: { capture: { dailyBudget: 3 } },
    };
    agent = await spawnAgent(agentJson, join(dir.path, "agent.json"), { KENSA_DEVICE_SECRET: enrolled.secret });
    await waitFor("the agent reports", async () => (await device()).reported?.config?.status === "local", {
      timeoutMs: 30_000,
    });
  }, 120_000);

  afterAll(async () => {
    const notable = agent?.logs.filter((l) => l.level === "error" || l.level === "stderr");
    if (notable?.length) console.log(notable.map((l) => JSON.stringify(l)).join("\n"));
    await agent?.kill("SIGKILL");
    await hub?.close();
    await dir?.remove();
  });

  it("adds a second pipeline with a folder source without a restart, and it loads its own bundle", async () => {
    const pid = agent?.child.pid;
    const before = (await device()).reported?.pipelines.map((p) => p.id);
    expect(before).toEqual(["default"]);
    const set = await setConfig(
      {
        sources: [
          { id: "a", type: "folder", path: lineA, fps: 4 },
          { id: "b", type: "folder", path: lineB, fps: 4, pipeline: "line-b" },
        ],
        capture: { dailyBudget: 50, sampleRate: 1 },
      },
      "second line",
    );
    expect(set.delivered?.rev).toBe(1);
    await waitFor(
      "line-b loaded its bundle and rev 1 applied",
      async () => {
        const r = (await device()).reported;
        const lb = r?.pipelines.find((p) => p.id === "line-b");
        return r?.config?.rev === 1 && r.config.status === "applied" && lb?.status === "loaded";
      },
      { timeoutMs: 60_000 },
    );
    const r = (await device()).reported!;
    expect(r.pipelines.find((p) => p.id === "line-b")?.bundle?.sha256).toBe(bundleSha);
    expect(r.sources.map((s) => s.id).sort()).toEqual(["a", "b"]);
    expect(r.config?.overridden).toEqual(["/capture/dailyBudget"]);
    expect(r.config?.restarted).toBeUndefined();
    // the same process, and its components were not restarted either
    expect(agent?.child.pid).toBe(pid);
    expect(agent?.child.exitCode).toBeNull();
    expect(started()).toBe(1);
    // frames of the new source reach the hub from the new pipeline
    await waitFor(
      "events of line-b",
      async () => {
        const evs = await api.call(incidentRoutes.listEvents, { query: { deviceId: "cam-1", limit: 1000 } });
        return evs.items.some((e) => e.pipeline === "line-b" && e.sourceId === "b" && e.bundleSha256 === bundleSha);
      },
      { timeoutMs: 30_000 },
    );
    const v = await view();
    expect(v.applied?.rev).toBe(1);
    expect(v.device?.comment).toBe("second line");
    // a later deployment to the added pipeline reaches its updater; the agent's own pipeline is untouched
    const next = await uploadModel([0.1, 0.9]);
    const dep = await api.call(fleetRoutes.createDeployment, {
      body: { modelVersionId: next, pipeline: "line-b", target: { deviceIds: ["cam-1"], tags: [] } },
    });
    await waitFor(
      "line-b runs the new bundle",
      async () => {
        const p = (await device()).reported?.pipelines;
        return p?.find((x) => x.id === "line-b")?.bundle?.sha256 === dep.bundleSha256;
      },
      { timeoutMs: 30_000 },
    );
    expect((await device()).reported?.pipelines.find((x) => x.id === "default")?.bundle).toBeNull();
    expect(agent?.child.pid).toBe(pid);
  });

  it("refuses an invalid config at the hub with a code and key paths, storing nothing", async () => {
    const err = await setConfig({ sources: [{ id: "x", type: "folder", path: lineA, fps: -1 }], bogus: 1 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(400);
    expect(e.code).toBe("KENSA_ERR_DEVICE_CONFIG_INVALID");
    const paths = ((e.details as { issues?: Array<{ path: string }> }).issues ?? []).map((i) => i.path);
    expect(paths).toContain("/sources/0/fps");
    expect(paths).toContain("/bogus");
    const history = await api.call(deviceConfigRoutes.deviceConfigHistory, { params: { id: "cam-1" }, query: {} });
    expect(history.items.map((h) => h.rev)).toEqual([1]);
  });

  it("keeps the running config when the agent cannot apply one, and reports the code", async () => {
    const missing = join(dir.path, "no-such-folder");
    const set = await setConfig({ sources: [{ id: "c", type: "folder", path: missing }] });
    expect(set.delivered?.rev).toBe(2);
    await waitFor("rev 2 refused", async () => (await device()).reported?.config?.status === "rejected", {
      timeoutMs: 30_000,
    });
    const r = (await device()).reported!;
    expect(r.config).toMatchObject({ rev: 1, desiredRev: 2, status: "rejected" });
    expect(r.config?.error?.code).toBe("KENSA_ERR_DEVICE_CONFIG_REJECTED");
    expect(r.config?.error?.issues?.[0]?.path).toBe("/sources/0/path");
    // still running rev 1: both sources, both pipelines
    expect(r.sources.map((s) => s.id).sort()).toEqual(["a", "b"]);
    expect(r.pipelines.map((p) => p.id).sort()).toEqual(["default", "line-b"]);
  });

  it("restarts its components in-process for a key that needs it, in the same process", async () => {
    const pid = agent?.child.pid;
    await setConfig({ sources: [{ id: "b", type: "folder", path: lineB, fps: 4 }], telemetryIntervalMs: 2000 });
    await waitFor(
      "rev 3 applied",
      async () => {
        const c = (await device()).reported?.config;
        return c?.rev === 3 && c.status === "applied";
      },
      { timeoutMs: 60_000 },
    );
    const r = (await device()).reported!;
    expect(r.config?.restarted).toEqual(["telemetryIntervalMs"]);
    expect(r.pipelines.map((p) => p.id)).toEqual(["default"]);
    expect(agent?.child.pid).toBe(pid);
    expect(started()).toBe(2);
    const audit = await api.call(peopleRoutes.audit, { query: { action: "device.config_set", limit: 100 } });
    expect(audit.items.map((a) => (a.details as { rev?: number }).rev)).toEqual([3, 2, 1]);
  });

  it("starts on the config it ran, from its data dir, when it restarts without its hub", async () => {
    await agent?.kill("SIGTERM");
    // no hub at these addresses: what runs comes from <dataDir>/remote-config.json alone
    agent = await spawnAgent(
      { ...agentJson, hubUrl: "http://127.0.0.1:9", mqttUrl: "mqtt://127.0.0.1:9" },
      join(dir.path, "agent-offline.json"),
      { KENSA_DEVICE_SECRET: "unused-offline" },
    );
    const statusUrl = await waitFor("the agent started", () => {
      const line = agent?.logs.find((l) => l.msg === "agent started");
      return (line?.statusUrl as string | undefined) ?? false;
    });
    const status = await waitFor("the status page", async (): Promise<{ sources: Array<{ id: string }> } | null> => {
      const res = await fetch(`${statusUrl}/api/v1/status`).catch(() => undefined);
      return res?.ok ? ((await res.json()) as { sources: Array<{ id: string }> }) : null;
    });
    // agent.json names source "a"; rev 3 from the hub replaced it with "b"
    expect(status.sources.map((x) => x.id)).toEqual(["b"]);
  });
});
