import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiError, KensaClient } from "@kensa/client";
import {
  fleetRoutes,
  incidentRoutes,
  type ModelManifest,
  projectRoutes,
  type Rollout,
  registryRoutes,
  rolloutRoutes,
} from "@kensa/contracts";
import { createHub } from "@kensa/hub";
import { type AgentProcess, spawnAgent, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { buildFixedOutputModel } from "@kensa/vision/graph";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildConsole,
  createUser,
  DESKTOP,
  launchChromium,
  screenshot,
  signIn,
  skipBrowserTests,
} from "../web/support/console-harness.js";

/**
 * Staged rollouts with a real hub and three real agent processes on a champion. A challenger
 * that calls every good part a defect goes to a one-device canary; a reviewer marks its
 * incidents false alarms as they come; the false-alarm gate breaches against the two control
 * devices, the rollout pauses and the canary is sent back to the champion — nobody touches the
 * rollout. A challenger as good as the champion passes both waves and completes.
 */
describe("staged rollout gated on field signals", () => {
  const manifest: ModelManifest = {
    task: "classification",
    input: { name: "images", width: 16, height: 16, channels: 3, layout: "NCHW" },
    preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    labels: ["ok", "defect"],
    okLabels: ["ok"],
    postprocessing: { type: "classification", activation: "none", output: "scores" },
    thresholds: { default: 0.5, perClass: {} },
  };
  const devices = ["cam-1", "cam-2", "cam-3"];
  let dir: TempDir;
  let hub: Awaited<ReturnType<typeof createHub>>;
  let api: KensaClient;
  const agents: AgentProcess[] = [];
  let projectId: string;
  let httpUrl: string;
  const model: Record<"champion" | "bad" | "good", string> = { champion: "", bad: "", good: "" };

  const upload = async (values: number[]) => {
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
    const { id } = await api.call(registryRoutes.upload, { upload: form });
    await api.call(registryRoutes.approve, {
      params: { id },
      body: { by: "qe", reason: "fit for a rollout", deploy: false },
    });
    return id;
  };
  const runs = async (id: string) =>
    (await api.call(fleetRoutes.get, { params: { id } })).reported?.pipelines.find((p) => p.id === "default");
  const rollout = (id: string) => api.call(rolloutRoutes.getRollout, { params: { id } });
  /** the two rollouts the console is shown (the paused one and the completed one) */
  const seen: { paused?: string; completed?: string } = {};

  beforeAll(async () => {
    dir = await tempDir();
    const frames = join(dir.path, "frames");
    mkdirSync(frames, { recursive: true });
    for (let i = 0; i < 4; i++) {
      const jpeg = await sharp({
        create: { width: 32, height: 32, channels: 3, background: { r: 90, g: 90 + i, b: 90 } },
      })
        .jpeg()
        .toBuffer();
      writeFileSync(join(frames, `f${i}.jpg`), jpeg);
    }
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      http: { host: "127.0.0.1", port: 0 },
      mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: 0 } },
      // the gates are looked at twice a second: the test waits for evidence, not for a timer
      rollout: { tickSeconds: 0.5 },
      logLevel: "warn",
    });
    const urls = await hub.start();
    httpUrl = urls.httpUrl;
    api = new KensaClient({ baseUrl: urls.httpUrl, auth: { kind: "bearer", token: hub.adminToken } });
    const project = await api.call(projectRoutes.create, {
      body: { slug: "rollouts", name: "Rollouts", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    projectId = project.id;
    model.champion = await upload([0.95, 0.05]);
    model.bad = await upload([0.05, 0.95]);
    model.good = await upload([0.97, 0.03]);
    for (const id of devices) {
      const enrolled = await api.call(fleetRoutes.enroll, { body: { projectId, id, tags: ["line"] } });
      const agentJson = {
        deviceId: id,
        hubUrl: enrolled.hubUrl,
        mqttUrl: enrolled.mqttUrl,
        dataDir: join(dir.path, `agent-${id}`),
        sources: [{ id: "a", type: "folder", path: frames, fps: 6 }],
        reportIntervalMs: 1000,
        frameUploadIntervalMs: 0,
        status: { port: 0 },
      };
      agents.push(await spawnAgent(agentJson, join(dir.path, `${id}.json`), { KENSA_DEVICE_SECRET: enrolled.secret }));
    }
    await api.call(fleetRoutes.createDeployment, {
      body: { modelVersionId: model.champion, pipeline: "default", target: { deviceIds: [], tags: ["line"] } },
    });
    for (const id of devices) {
      await waitFor(
        `${id} runs the champion`,
        async () => (await runs(id))?.bundle?.modelVersionId === model.champion,
        {
          timeoutMs: 60_000,
        },
      );
    }
  }, 180_000);

  afterAll(async () => {
    for (const a of agents) {
      const notable = a.logs.filter((l) => l.level === "error" || l.level === "stderr");
      if (notable.length) console.log(notable.map((l) => JSON.stringify(l)).join("\n"));
      await a.kill("SIGKILL");
    }
    await hub?.close();
    await dir?.remove();
  });

  it("refuses a candidate outside shadow mode with a coded error", async () => {
    const form = new FormData();
    form.set("projectId", projectId);
    form.set("manifest", JSON.stringify(manifest));
    form.set(
      "model",
      new Blob([
        Buffer.from(
          buildFixedOutputModel({
            input: "images",
            width: 16,
            height: 16,
            outputs: [{ name: "scores", dims: [1, 2], values: [0.6, 0.4] }],
          }),
        ),
      ]),
      "c.onnx",
    );
    const candidate = await api.call(registryRoutes.upload, { upload: form });
    const err = await api
      .call(rolloutRoutes.createRollout, {
        body: { modelVersionId: candidate.id, pipeline: "default", target: { deviceIds: [], tags: ["line"] } },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("KENSA_ERR_MODEL_NOT_DEPLOYABLE");
  });

  it("pauses and sends the canary back to the champion when the false-alarm gate breaches", async () => {
    const created = await api.call(rolloutRoutes.createRollout, {
      body: {
        modelVersionId: model.bad,
        pipeline: "default",
        target: { deviceIds: [], tags: ["line"] },
        strategy: { canaryDeviceIds: ["cam-1"], factor: 2, bakeSeconds: 2 },
        // the incident-rate gate would catch this model first; here the reviewers' verdicts do
        gates: { minFrames: 20, minVerdicts: 3, disabled: ["incident_rate", "latency", "frame_rate"] },
      },
    });
    expect(created.state).toBe("running");
    expect(created.championModelVersionId).toBe(model.champion);
    expect(created.waves.map((w) => w.deviceIds)).toEqual([["cam-1"], ["cam-2", "cam-3"]]);
    await waitFor(
      "the canary runs the challenger",
      async () => (await runs("cam-1"))?.bundle?.modelVersionId === model.bad,
      {
        timeoutMs: 30_000,
      },
    );

    // a reviewer works through the canary's incidents as they come, as a person in the console would
    const reviewed = new Set<string>();
    let paused: Rollout | undefined;
    await waitFor(
      "the rollout pauses on its own",
      async () => {
        const { items } = await api.call(incidentRoutes.list, { query: { deviceId: "cam-1", limit: 50 } });
        for (const inc of items.filter((i) => i.modelVersionId === model.bad && i.status === "open")) {
          if (reviewed.has(inc.id)) continue;
          reviewed.add(inc.id);
          await api.call(incidentRoutes.createVerdict, {
            params: { id: inc.id },
            body: { verdict: "false_alarm", by: "reviewer" },
          });
        }
        const r = await rollout(created.id);
        if (r.state === "paused") paused = r;
        return r.state === "paused";
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    const r = paused!;
    seen.paused = r.id;
    const breach = r.waves[0]!.gates.find((g) => g.gate === "false_alarms");
    expect(breach?.status).toBe("breach");
    expect(breach?.control?.devices).toBe(2);
    expect(breach?.pValue).toBeLessThan(0.01);
    expect(r.waves[0]!.state).toBe("rolled_back");
    expect(r.waves[1]!.state).toBe("pending");
    expect(r.reason).toMatch(/false_alarms/);
    // the hub decided, not a person
    expect(r.history.at(-1)).toMatchObject({ from: "running", to: "paused", by: "hub" });
    await waitFor(
      "the canary runs the champion again",
      async () => (await runs("cam-1"))?.bundle?.modelVersionId === model.champion,
      {
        timeoutMs: 30_000,
      },
    );
    // the control devices never left the champion
    for (const id of ["cam-2", "cam-3"]) expect((await runs(id))?.bundle?.modelVersionId).toBe(model.champion);

    // a second rollout of the same pipeline waits for this one to end
    const conflict = await api
      .call(rolloutRoutes.createRollout, {
        body: { modelVersionId: model.good, pipeline: "default", target: { deviceIds: [], tags: ["line"] } },
      })
      .catch((e: unknown) => e);
    expect((conflict as ApiError).code).toBe("KENSA_ERR_ROLLOUT_CONFLICT");
    const aborted = await api.call(rolloutRoutes.abortRollout, { params: { id: r.id }, body: { reason: "bad model" } });
    expect(aborted.state).toBe("aborted");
    const again = await api
      .call(rolloutRoutes.resumeRollout, { params: { id: r.id }, body: {} })
      .catch((e: unknown) => e);
    expect((again as ApiError).code).toBe("KENSA_ERR_ROLLOUT_STATE");
  }, 150_000);

  it("passes every wave of a challenger as good as the champion and completes", async () => {
    const created = await api.call(rolloutRoutes.createRollout, {
      body: {
        modelVersionId: model.good,
        pipeline: "default",
        target: { deviceIds: [], tags: ["line"] },
        strategy: { canaryDeviceIds: ["cam-1"], factor: 2, bakeSeconds: 2 },
        gates: { minFrames: 20, minVerdicts: 3, disabled: ["latency", "frame_rate"] },
      },
    });
    await waitFor("the rollout completes", async () => (await rollout(created.id)).state === "completed", {
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    const r = await rollout(created.id);
    seen.completed = r.id;
    expect(r.waves.map((w) => w.state)).toEqual(["passed", "passed"]);
    for (const w of r.waves) {
      expect(w.gates.map((g) => g.status)).toEqual(w.gates.map(() => "pass"));
      expect(w.gates.find((g) => g.gate === "incident_rate")?.wave.frames).toBeGreaterThanOrEqual(20);
    }
    // the last wave had no device left on the champion: it was held to its own history
    expect(r.waves[1]!.gates.find((g) => g.gate === "incident_rate")?.detail).toMatch(/history on the champion/);
    expect(r.history.map((h) => h.to)).toEqual(["planned", "running", "completed"]);
    for (const id of devices) {
      await waitFor(`${id} runs the new version`, async () => (await runs(id))?.bundle?.modelVersionId === model.good, {
        timeoutMs: 30_000,
      });
    }
  }, 180_000);

  it("runs a candidate in shadow mode beside the champion, judges it on agreement and raises no incident", async () => {
    const twin = await (async () => {
      const form = new FormData();
      form.set("projectId", projectId);
      form.set("manifest", JSON.stringify(manifest));
      const onnx = buildFixedOutputModel({
        input: "images",
        width: 16,
        height: 16,
        outputs: [{ name: "scores", dims: [1, 2], values: [0.9, 0.1] }],
      });
      form.set("model", new Blob([Buffer.from(onnx)]), "twin.onnx");
      return (await api.call(registryRoutes.upload, { upload: form })).id;
    })();
    const before = (await api.call(incidentRoutes.list, { query: { limit: 1000 } })).items.length;
    const created = await api.call(rolloutRoutes.createRollout, {
      body: {
        modelVersionId: twin,
        pipeline: "default",
        mode: "shadow",
        target: { deviceIds: [], tags: ["line"] },
        strategy: { canaryDeviceIds: ["cam-1"], factor: 2, bakeSeconds: 1 },
        gates: { minFrames: 40, disabled: ["latency", "frame_rate"] },
      },
    });
    expect(created.mode).toBe("shadow");
    await waitFor("the shadow rollout completes", async () => (await rollout(created.id)).state === "completed", {
      timeoutMs: 150_000,
      intervalMs: 1000,
    });
    const r = await rollout(created.id);
    for (const w of r.waves) {
      const g = w.gates.find((x) => x.gate === "shadow_agreement");
      expect(g?.status).toBe("pass");
      expect(g?.wave.frames).toBeGreaterThanOrEqual(40);
      expect(g?.wave.value).toBe(1);
    }
    for (const id of devices) {
      const p = await runs(id);
      // the champion still decides; the candidate only watches
      expect(p?.bundle?.modelVersionId).toBe(model.good);
      expect(p?.shadow?.modelVersionId).toBe(twin);
    }
    const after = (await api.call(incidentRoutes.list, { query: { limit: 1000 } })).items;
    expect(after.length).toBe(before);
    expect(after.some((i) => i.modelVersionId === twin)).toBe(false);
  }, 200_000);

  it.skipIf(skipBrowserTests)(
    "shows both in the console: the breach with its evidence, and the completed waves",
    async () => {
      await buildConsole();
      const browser = await launchChromium();
      try {
        const ivy = await createUser(httpUrl, hub.adminToken, "ivy", "iot_engineer");
        const page = await (await browser.newContext({ ...DESKTOP, baseURL: httpUrl })).newPage();
        await signIn(page, `/rollouts/${seen.paused}`, ivy.username, ivy.password);
        await page.locator('[data-testid="rollout-state"][data-state="aborted"]').waitFor({ timeout: 15_000 });
        // the wave the hub sent back, and the gate that did it, with the control's figures
        await page.locator('[data-wave="0"][data-state="rolled_back"]').waitFor();
        await page.locator('[data-wave="0"]').click();
        const gate = page.locator('[data-gate="false_alarms"][data-status="breach"]');
        await gate.waitFor();
        expect(await gate.locator(".gate-detail").textContent()).toMatch(/control devices/);
        await expect.poll(() => page.getByText("wave 1 of 2 breached false_alarms").count()).toBeGreaterThan(0);
        await screenshot(page, "rollout-breach-desktop");

        await page.goto(`/rollouts/${seen.completed}`);
        await page.locator('[data-testid="rollout-state"][data-state="completed"]').waitFor({ timeout: 15_000 });
        for (const w of [0, 1]) await page.locator(`[data-wave="${w}"][data-state="passed"]`).waitFor();
        await screenshot(page, "rollout-completed-desktop");
      } finally {
        await browser.close();
      }
    },
    180_000,
  );
});
