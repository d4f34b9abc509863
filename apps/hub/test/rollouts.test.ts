import { type ModelManifest, type Rollout, registryRoutes, rolloutRoutes, topics } from "@kensa/contracts";
import { buildFixedOutputModel } from "@kensa/vision/graph";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateGates, type WaveEvidence } from "../src/rollouts/rollout-gates.js";
import { gatesOf, planWaves, strategyOf } from "../src/rollouts/rollout-plan.js";
import { binomialUpperTail, rateTestPValue } from "../src/rollouts/rollout-stats.js";
import { backends, connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

describe("rollout statistics and plans", () => {
  it("computes exact binomial tails", () => {
    expect(binomialUpperTail(3, 5, 0.5)).toBeCloseTo(0.5, 12);
    expect(binomialUpperTail(10, 10, 0.5)).toBeCloseTo(1 / 1024, 15);
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0);
    // large n against the normal approximation: P(X ≥ 5300 | n = 10000, p = 0.5) ≈ Φ(-5.99)
    const p = binomialUpperTail(5300, 10_000, 0.5);
    expect(p).toBeGreaterThan(5e-10);
    expect(p).toBeLessThan(3e-9);
    // the same rate in both groups is no evidence at all
    expect(rateTestPValue({ count: 10, frames: 1000 }, { count: 20, frames: 2000 })).toBeGreaterThan(0.4);
    expect(rateTestPValue({ count: 30, frames: 200 }, { count: 5, frames: 2000 })).toBeLessThan(1e-20);
  });

  it("plans a canary then waves growing by the factor", () => {
    const ids = Array.from({ length: 10 }, (_, i) => `cam-${String(i).padStart(2, "0")}`);
    expect(planWaves(ids, strategyOf({})).map((w) => w.length)).toEqual([1, 2, 4, 3]);
    expect(planWaves(ids, strategyOf({ canaryPercent: 30, factor: 3 })).map((w) => w.length)).toEqual([3, 7]);
    const named = planWaves(ids, strategyOf({ canaryDeviceIds: ["cam-07", "cam-03"] }));
    expect(named[0]).toEqual(["cam-07", "cam-03"]);
    expect(named.flat().sort()).toEqual(ids);
    // factor 1 still grows by one device a wave: a rollout always ends
    expect(planWaves(ids.slice(0, 4), strategyOf({ factor: 1 })).map((w) => w.length)).toEqual([1, 2, 1]);
  });
});

describe("rollout gates", () => {
  const frames = (n: number, ids = ["a"]) => new Map(ids.map((id) => [id, n / ids.length]));
  const base = (over: Partial<WaveEvidence> = {}): WaveEvidence => ({
    mode: "deploy",
    gates: gatesOf({ disabled: ["latency", "frame_rate"] }),
    pipeline: "default",
    challenger: "mdl_new",
    bundleShas: new Set(["b".repeat(64)]),
    waveDevices: ["a"],
    waveFrames: frames(200),
    waveIncidents: { incidents: 2, falseAlarms: 0, reviewed: 0 },
    control: {
      devices: 3,
      frames: frames(2000, ["c1", "c2"]),
      incidents: { incidents: 20, falseAlarms: 0, reviewed: 0 },
      kind: "devices",
    },
    reported: new Map([
      [
        "a",
        {
          v: 1,
          ts: new Date().toISOString(),
          agentVersion: "t",
          arch: "x64",
          platform: "linux",
          desiredRev: 1,
          sources: [],
          pipelines: [
            { id: "default", status: "loaded", bundle: { sha256: "b".repeat(64), modelVersionId: "mdl_new" } },
          ],
        },
      ],
    ]),
    restartsAtStart: {},
    telemetry: { current: new Map(), baseline: new Map() },
    shadow: null,
    ...over,
  });
  const gate = (e: WaveEvidence, name: string) => evaluateGates(e).find((g) => g.gate === name)!;

  it("passes a wave like its control and breaches one significantly worse", () => {
    expect(evaluateGates(base()).map((g) => [g.gate, g.status])).toEqual([
      ["install", "pass"],
      ["restarts", "pass"],
      ["incident_rate", "pass"],
      ["false_alarms", "pass"],
    ]);
    const worse = gate(base({ waveIncidents: { incidents: 30, falseAlarms: 0, reviewed: 0 } }), "incident_rate");
    expect(worse.status).toBe("breach");
    expect(worse.pValue).toBeLessThan(1e-10);
    // 1.4× the control's rate is within the tolerated 1.5×, however significant
    const within = gate(
      base({ waveFrames: frames(20_000), waveIncidents: { incidents: 280, falseAlarms: 0, reviewed: 0 } }),
      "incident_rate",
    );
    expect(within.status).toBe("pass");
  });

  it("waits for evidence and never passes without it", () => {
    const few = gate(
      base({ waveFrames: frames(50), waveIncidents: { incidents: 1, falseAlarms: 0, reviewed: 0 } }),
      "incident_rate",
    );
    expect(few.status).toBe("waiting");
    expect(few.detail).toMatch(/waiting for 200 frames/);
    const unreviewed = gate(
      base({ gates: gatesOf({ minVerdicts: 5, disabled: ["latency", "frame_rate"] }) }),
      "false_alarms",
    );
    expect(unreviewed.status).toBe("waiting");
    const telemetry = gate(base({ gates: gatesOf({}) }), "latency");
    expect(telemetry.status).toBe("waiting");
  });

  it("breaches on an install failure, a failed session and a slower model", () => {
    const failed = base();
    const rep = failed.reported.get("a")!;
    rep.pipelines = [
      {
        id: "default",
        status: "loaded",
        bundle: { sha256: "c".repeat(64), modelVersionId: "mdl_old" },
        error: { code: "KENSA_ERR_BUNDLE_SELF_TEST_FAILED", message: "x", bundleSha256: "b".repeat(64) },
        session: { state: "failed", restarts: 4 },
      },
    ];
    expect(gate(failed, "install")).toMatchObject({ status: "breach" });
    expect(gate(failed, "install").detail).toMatch(/KENSA_ERR_BUNDLE_SELF_TEST_FAILED/);
    expect(gate(failed, "restarts").status).toBe("breach");
    // agent processes that started after the wave did restart during it
    const restarted = base({
      gates: gatesOf({ maxRestarts: 0, disabled: ["latency", "frame_rate"] }),
      waveStartedAt: "2026-01-01T00:00:00.000Z",
    });
    expect(gate(restarted, "restarts").status).toBe("pass");
    restarted.reported.get("a")!.startedAt = "2026-01-01T00:05:00.000Z";
    expect(gate(restarted, "restarts")).toMatchObject({
      status: "breach",
      detail: expect.stringMatching(/1 agent restarts/),
    });
    const slow = base({
      gates: gatesOf({}),
      telemetry: {
        current: new Map([["a", { p95: 40, fps: 5, minutes: 3 }]]),
        baseline: new Map([["a", { p95: 20, fps: 5, minutes: 10 }]]),
      },
    });
    expect(gate(slow, "latency")).toMatchObject({ status: "breach", wave: { value: 2 } });
    expect(gate(slow, "frame_rate").status).toBe("pass");
  });

  it("requires a finished backtest when asked, and breaches on added misses", () => {
    const gates = gatesOf({ requireBacktest: true, disabled: ["latency", "frame_rate"] });
    const counts = (missesAdded: number) => ({
      frames: 300,
      skipped: 2,
      judged: 120,
      champion: { decided: 280, incidents: 90, falseAlarms: 10, misses: 3 },
      candidate: { incidents: 85, falseAlarms: 8, misses: 3 + missesAdded },
      incidents: { added: 4, removed: 9 },
      falseAlarms: { added: 0, removed: 2 },
      misses: { added: missesAdded, removed: 0 },
    });
    expect(gate(base({ gates }), "backtest")).toMatchObject({ status: "waiting" });
    expect(
      gate(base({ gates, backtest: { id: "btk_1", status: "running", totals: null } }), "backtest").detail,
    ).toMatch(/running; waiting/);
    expect(
      gate(base({ gates, backtest: { id: "btk_1", status: "succeeded", totals: counts(0) } }), "backtest").status,
    ).toBe("pass");
    const worse = gate(base({ gates, backtest: { id: "btk_2", status: "succeeded", totals: counts(2) } }), "backtest");
    expect(worse).toMatchObject({ status: "breach", wave: { count: 2 } });
    // not asked for: no such gate at all
    expect(evaluateGates(base()).some((g) => g.gate === "backtest")).toBe(false);
  });

  it("has nothing to compare when nothing ran before, and says so", () => {
    const first = gate(base({ control: null }), "incident_rate");
    expect(first.status).toBe("pass");
    expect(first.detail).toMatch(/nothing ran before/);
  });
});

const manifest: ModelManifest = {
  task: "classification",
  input: { name: "images", width: 16, height: 16, channels: 3, layout: "NCHW" },
  preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
  labels: ["ok", "defect"],
  okLabels: ["ok"],
  postprocessing: { type: "classification", activation: "none", output: "scores" },
  thresholds: { default: 0.5, perClass: {} },
};

for (const backend of await backends("rollouts")) {
  describe(`rollouts through the API (${backend.name})`, () => {
    let t: TestHub;
    let projectId: string;
    let secrets: Record<string, string>;
    const models: string[] = [];
    const devices = ["cam-1", "cam-2", "cam-3", "cam-4"];
    const clients: MqttClient[] = [];

    const upload = async (values: number[], approve = true) => {
      const form = new FormData();
      form.set("projectId", projectId);
      form.set("manifest", JSON.stringify(manifest));
      const onnx = buildFixedOutputModel({
        input: "images",
        width: 16,
        height: 16,
        outputs: [{ name: "scores", dims: [1, 2], values }],
      });
      form.set("model", new Blob([Buffer.from(onnx)]), "m.onnx");
      const { id } = await t.client.call(registryRoutes.upload, { upload: form });
      if (approve)
        await t.client.call(registryRoutes.approve, {
          params: { id },
          body: { by: "qe", reason: "ok", deploy: false },
        });
      return id;
    };
    /** the model version the device's desired state names for the default pipeline */
    const runsOf = async (id: string) => {
      const row = await t.hub.store.db
        .selectFrom("devices")
        .select("desired")
        .where("id", "=", id)
        .executeTakeFirstOrThrow();
      const desired = row.desired
        ? (JSON.parse(row.desired) as { pipelines: Array<{ id: string; bundle: { modelVersionId: string } | null }> })
        : null;
      return desired?.pipelines.find((p) => p.id === "default")?.bundle?.modelVersionId ?? null;
    };
    const create = (body: Record<string, unknown>) =>
      t.client.call(rolloutRoutes.createRollout, {
        body: { pipeline: "default", target: { deviceIds: [], tags: ["line"] }, ...body } as never,
      });
    const tick = () => t.hub.app.rolloutTicker.tick();

    beforeAll(async () => {
      // the ticker's own interval is long: the test looks when it wants to
      t = await startHub({ database: backend.database(), rollout: { tickSeconds: 3600 } });
      ({ projectId, secrets } = await seed(
        t.call,
        "rollouts",
        devices.map((id) => ({ id, tags: ["line"] })),
      ));
      models.push(await upload([0.9, 0.1]), await upload([0.8, 0.2]), await upload([0.7, 0.3]));
      await t.call("POST", "/api/v1/deployments", {
        body: { modelVersionId: models[0], target: { deviceIds: [], tags: ["line"] } },
      });
      for (const id of devices) clients.push(await connectDevice(t.mqttUrl, id, secrets[id]!));
    });

    afterAll(async () => {
      for (const c of clients) await c.endAsync();
      await t?.close();
      await backend.cleanup();
    });

    it("walks the waves by hand, pauses, resumes and rolls every device back", async () => {
      const r = await create({ modelVersionId: models[1], strategy: { canaryPercent: 25, bakeSeconds: 3600 } });
      expect(r.waves.map((w) => w.deviceIds.length)).toEqual([1, 2, 1]);
      expect(await runsOf("cam-1")).toBe(models[1]);
      expect(await runsOf("cam-2")).toBe(models[0]);
      // the bake lasts an hour: a look changes nothing but the evidence
      await tick();
      const looked = await t.client.call(rolloutRoutes.getRollout, { params: { id: r.id } });
      expect(looked.state).toBe("running");
      expect(looked.waves[0]!.evaluatedAt).not.toBeNull();
      const promoted = await t.client.call(rolloutRoutes.promoteRollout, {
        params: { id: r.id },
        body: { reason: "looks fine" },
      });
      expect(promoted.currentWave).toBe(1);
      expect(promoted.waves[0]!.state).toBe("passed");
      expect(await runsOf("cam-2")).toBe(models[1]);
      const paused = await t.client.call(rolloutRoutes.pauseRollout, { params: { id: r.id }, body: {} });
      expect(paused.state).toBe("paused");
      const resumed = await t.client.call(rolloutRoutes.resumeRollout, { params: { id: r.id }, body: {} });
      expect(resumed.state).toBe("running");
      const back = await t.client.call(rolloutRoutes.rollbackRollout, {
        params: { id: r.id },
        body: { reason: "not now" },
      });
      expect(back.state).toBe("rolled_back");
      expect(back.waves.map((w) => w.state)).toEqual(["rolled_back", "rolled_back", "pending"]);
      for (const id of devices) expect(await runsOf(id)).toBe(models[0]);
      expect(back.history.map((h) => `${h.to}:${h.by}`)).toEqual([
        "planned:admin-token",
        "running:admin-token",
        "running:admin-token",
        "paused:admin-token",
        "running:admin-token",
        "rolled_back:admin-token",
      ]);
      const audit = await t.call<{ items: Array<{ action: string; targetId: string | null }> }>(
        "GET",
        "/api/v1/audit?limit=100",
      );
      const actions = audit.json.items.filter((a) => a.targetId === r.id).map((a) => a.action);
      expect(actions.sort()).toEqual(
        [
          "rollout.create",
          "rollout.start",
          "rollout.promote",
          "rollout.pause",
          "rollout.resume",
          "rollout.rollback",
        ].sort(),
      );
    });

    it("refuses rejected and candidate models, unknown ids and actions out of turn", async () => {
      const candidate = await upload([0.6, 0.4], false);
      const err = await create({ modelVersionId: candidate }).catch((e: unknown) => e);
      expect((err as { code: string }).code).toBe("KENSA_ERR_MODEL_NOT_DEPLOYABLE");
      // a candidate may watch in shadow mode
      const shadow = await create({ modelVersionId: candidate, mode: "shadow", start: false });
      expect(shadow.state).toBe("planned");
      const missing = await t.client
        .call(rolloutRoutes.getRollout, { params: { id: "rol_nope" } })
        .catch((e: unknown) => e);
      expect((missing as { code: string }).code).toBe("KENSA_ERR_ROLLOUT_NOT_FOUND");
      const early = await t.client
        .call(rolloutRoutes.promoteRollout, { params: { id: shadow.id }, body: {} })
        .catch((e: unknown) => e);
      expect((early as { code: string }).code).toBe("KENSA_ERR_ROLLOUT_STATE");
      await t.client.call(rolloutRoutes.abortRollout, { params: { id: shadow.id }, body: {} });
      const unknownDevice = await create({
        modelVersionId: models[1],
        target: { deviceIds: ["cam-9"], tags: [] },
      }).catch((e: unknown) => e);
      expect((unknownDevice as { code: string }).code).toBe("KENSA_ERR_DEVICE_NOT_FOUND");
    });

    it("pauses a wave that never gathers its evidence", async () => {
      const r = await create({
        modelVersionId: models[1],
        strategy: { canaryDeviceIds: ["cam-1"], bakeSeconds: 0, evidenceTimeoutSeconds: 1 },
        gates: { minFrames: 1_000_000, disabled: ["latency", "frame_rate", "install"] },
      });
      await new Promise((res) => setTimeout(res, 1200));
      await tick();
      const after = await t.client.call(rolloutRoutes.getRollout, { params: { id: r.id } });
      expect(after.state).toBe("paused");
      expect(after.reason).toMatch(/lacks evidence/);
      // no breach: the canary keeps what it runs until a person decides
      expect(after.waves[0]!.state).toBe("baking");
      expect(await runsOf("cam-1")).toBe(models[1]);
      await t.client.call(rolloutRoutes.rollbackRollout, { params: { id: r.id }, body: {} });
      expect(await runsOf("cam-1")).toBe(models[0]);
    });

    it("breaches the incident-rate gate on events from the field and sends the canary back", async () => {
      const r: Rollout = await create({
        modelVersionId: models[2],
        strategy: { canaryDeviceIds: ["cam-1"], bakeSeconds: 0 },
        gates: { minFrames: 30, disabled: ["latency", "frame_rate", "install"] },
      });
      const send = async (i: number, id: string, model: string, label: string) => {
        const c = clients[i]!;
        const ev = makeEvent(id, { label, bundle: { sha256: "a".repeat(64), modelVersionId: model } });
        await c.publishAsync(topics.events(id), JSON.stringify(ev), { qos: 1 });
      };
      for (let n = 0; n < 40; n++) {
        await send(0, "cam-1", models[2]!, n % 2 ? "defect" : "ok");
        for (const [i, id] of [
          [1, "cam-2"],
          [2, "cam-3"],
          [3, "cam-4"],
        ] as const) {
          await send(i, id, models[0]!, n === 7 ? "defect" : "ok");
        }
      }
      await t.hub.ingest.idle();
      await tick();
      const after = await t.client.call(rolloutRoutes.getRollout, { params: { id: r.id } });
      expect(after.state).toBe("paused");
      const g = after.waves[0]!.gates.find((x) => x.gate === "incident_rate")!;
      expect(g).toMatchObject({
        status: "breach",
        wave: { frames: 40, count: 20 },
        control: { devices: 3, frames: 120, count: 3 },
      });
      expect(after.history.at(-1)?.by).toBe("hub");
      expect(await runsOf("cam-1")).toBe(models[0]);
    });

    it("leaves out devices retired since the rollout was planned", async () => {
      for (const live of await t.client
        .call(rolloutRoutes.listRollouts, { query: { state: "paused" } })
        .then((l) => l.items)) {
        await t.client.call(rolloutRoutes.abortRollout, { params: { id: live.id }, body: {} });
      }
      const r = await create({
        modelVersionId: models[1],
        strategy: { canaryDeviceIds: ["cam-1"], factor: 10, bakeSeconds: 3600 },
      });
      expect(r.waves.map((w) => w.deviceIds)).toEqual([["cam-1"], ["cam-2", "cam-3", "cam-4"]]);
      await t.call("POST", "/api/v1/devices/cam-4/retire");
      const next = await t.client.call(rolloutRoutes.promoteRollout, { params: { id: r.id }, body: {} });
      expect(next.waves[1]!.deviceIds).toEqual(["cam-2", "cam-3"]);
      expect(next.waves[1]!.state).toBe("baking");
      expect(await runsOf("cam-2")).toBe(models[1]);
    });
  });
}
