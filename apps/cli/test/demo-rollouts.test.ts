import type { KensaClient } from "@kensa/client";
import { fleetRoutes, registryRoutes, rolloutRoutes, trainingRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import {
  createInspectionProject,
  enrollAgents,
  pushBlemishModel,
  type ScenarioAgent,
  type ScenarioHub,
  startScenarioHub,
  syntheticCamera,
} from "@kensa/scenario";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetView } from "../src/demo-fleet.js";
import { RolloutDriver } from "../src/demo-rollouts.js";

/**
 * The demo's release manager with a real hub and two real agents on synthetic cameras, as the
 * demo runs them but with short bakes: the challenger goes out in shadow wave by wave, its
 * agreement and backtest are logged, and an approved version newer than what the fleet runs
 * goes out as a staged deploy rollout (autoDeploy being off) until both cameras run it.
 */
describe("demo rollout driver", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let api: KensaClient;
  let projectId: string;
  const agents: ScenarioAgent[] = [];
  const drivers: RolloutDriver[] = [];
  const lines: string[] = [];
  const said = (re: RegExp) => lines.some((l) => re.test(l));

  /** A project whose cameras run the hand-built v1, sent out by autoDeploy, which is then turned off (as the demo does). */
  const line = async (slug: string, ids: string[], seed: number): Promise<string> => {
    const id = (await createInspectionProject(api, { slug })).id;
    const cameras = ids.map((device, i) => ({
      id: device,
      tags: ["line-1"],
      sources: [syntheticCamera(seed + i, { fps: 5, defectRate: 0.5 })],
    }));
    agents.push(
      ...(await enrollAgents(api, id, cameras, {
        dir: dir.path,
        config: { telemetryIntervalMs: 1000, reportIntervalMs: 2000 },
      })),
    );
    await api.call(trainingRoutes.updateSettings, { params: { id }, body: { autoDeploy: { tags: ["line-1"] } } });
    const v1 = await pushBlemishModel(api, id, { fileName: "blemish-v1.onnx" });
    await api.call(registryRoutes.approve, {
      params: { id: v1.id },
      body: { by: "test", reason: "first", deploy: true },
    });
    await api.call(trainingRoutes.updateSettings, { params: { id }, body: { autoDeploy: null } });
    return id;
  };

  beforeAll(async () => {
    dir = await tempDir("kensa-demo-rollouts-");
    hub = await startScenarioHub({
      createHub,
      dataDir: `${dir.path}/hub`,
      config: { rollout: { tickSeconds: 0.5 } },
    });
    api = hub.client;
    projectId = await line("line-r", ["cam-1", "cam-2"], 300);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(drivers.map((d) => d.stop()));
    for (const a of agents) {
      const notable = a.process.logs.filter((l) => l.level === "error" || l.level === "stderr");
      if (notable.length) console.log(`${a.id}:\n${notable.map((l) => JSON.stringify(l)).join("\n")}`);
    }
    await Promise.all(agents.map((a) => a.process.kill("SIGKILL")));
    await hub?.close();
    await dir?.remove();
  });

  const runs = async (id: string) =>
    (await api.call(fleetRoutes.get, { params: { id } })).reported?.pipelines.find((p) => p.id === "default");

  it("shadows a challenger in waves, logs its agreement and backtest, then stages an approved version", async () => {
    const driver = new RolloutDriver({
      api,
      projectId,
      tag: "line-1",
      canary: "cam-1",
      firstModel: "hand-built",
      reviewer: false,
      log: (l) => lines.push(l),
      intervalMs: 500,
      bakeSeconds: 2,
      minFrames: 20,
      backtestAfterMs: 3000,
    });
    drivers.push(driver);
    driver.start();

    await waitFor(
      "the challenger's shadow rollout completes",
      async () => {
        const { items } = await api.call(rolloutRoutes.listRollouts, { query: { projectId } });
        return items.some((r) => r.mode === "shadow" && r.state === "completed");
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const shadow = (await api.call(rolloutRoutes.listRollouts, { query: { projectId } })).items[0]!;
    const challenger = await api.call(registryRoutes.get, { params: { id: shadow.modelVersionId } });
    // a candidate, never approved: it only ever watches beside the champion
    expect(challenger.stage).toBe("candidate");
    expect(challenger.name).toBe("blemish-96x72");
    expect(shadow.waves.map((w) => w.deviceIds)).toEqual([["cam-1"], ["cam-2"]]);
    expect(shadow.gates.disabled).toEqual(["latency", "frame_rate"]);
    for (const id of ["cam-1", "cam-2"]) expect((await runs(id))?.shadow?.modelVersionId).toBe(challenger.id);
    expect(lines.join("\n")).toMatch(
      /^ {2}rollout {3}v2 shadow beside v1 to line-1: rol_\S+, waves cam-1 → cam-2 \(×2\)/m,
    );
    expect(lines.join("\n")).toMatch(/latency and frame_rate off/);
    // the driver says it at its next look, which may come after the hub's
    await waitFor(
      "the driver logs the passed wave and the completion",
      () =>
        said(/^ {2}rollout {3}v2 shadow: wave 1\/2 passed \(shadow_agreement: agreement [\d.]+ %/) &&
        said(/^ {2}rollout {3}v2 shadow: completed, 2\/2 waves passed/),
      { timeoutMs: 10_000, intervalMs: 200 },
    );

    await waitFor(
      "the shadow agreement and the backtest's result are logged",
      () =>
        said(/^ {2}shadow {4}v2 beside v1: agreement [\d.]+ % \[[\d.]+ %, [\d.]+ %\] on \d+ frames/) &&
        said(/^ {2}backtest {2}v2 on \d+ archived frames/),
      { timeoutMs: 90_000, intervalMs: 500 },
    );

    // a newer version approved by a person: with autoDeploy off, only the driver sends it out
    const v3 = await pushBlemishModel(api, projectId, { width: 80, height: 60, fileName: "blemish-80x60.onnx" });
    await api.call(registryRoutes.approve, {
      params: { id: v3.id },
      body: { by: "test", reason: "newer", deploy: false },
    });
    await waitFor(
      "the approved version's deploy rollout completes",
      async () => {
        const { items } = await api.call(rolloutRoutes.listRollouts, { query: { projectId } });
        return items.some((r) => r.modelVersionId === v3.id && r.state === "completed");
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    for (const id of ["cam-1", "cam-2"]) {
      await waitFor(`${id} runs v3`, async () => (await runs(id))?.bundle?.modelVersionId === v3.id, {
        timeoutMs: 30_000,
      });
    }
    await waitFor("the driver logs the deploy rollout's completion", () =>
      said(/^ {2}rollout {3}v3 deploy: completed, 2\/2 waves passed/),
    );
    const text = lines.join("\n");
    expect(text).toMatch(/^ {2}rollout {3}v3 is approved and newer than what the fleet runs; autoDeploy is off/m);
    expect(text).toMatch(/^ {2}rollout {3}v3 deploy over v1 to line-1: rol_\S+, waves cam-1 → cam-2/m);
    expect(text).toMatch(/^ {2}rollout {3}v3 deploy: wave 1\/2 passed \(incident_rate: /m);
    expect(text).toMatch(/^ {2}rollout {3}v3 deploy: completed, 2\/2 waves passed/m);

    // what the demo's report is built from
    const versions = (await api.call(registryRoutes.list, { query: { projectId } })).items;
    const view = await fleetView(api, projectId, new Map(versions.map((m) => [m.id, m.version])));
    expect(view.rollouts.map((r) => [r.model, r.mode, r.state, r.wavesPassed, r.waves])).toEqual([
      ["v2", "shadow", "completed", 2, 2],
      ["v3", "deploy", "completed", 2, 2],
    ]);
    const pair = view.shadowAgreement.find((p) => p.challenger === "v2")!;
    expect(pair.frames).toBeGreaterThan(20);
    expect(pair.rate).toBeGreaterThan(0.9);
    expect(pair.interval[0]).toBeLessThanOrEqual(pair.rate!);
    expect(view.backtest?.status).toBe("succeeded");
    expect(view.backtest?.model).toBe("v2");
    expect(view.backtest?.frames).toBeGreaterThan(0);
    // the champion's incidents were frames a camera really uploaded: it decided every one
    expect(view.backtest!.incidents.champion).toBeGreaterThan(0);
    // nothing new for the driver to do: no third rollout
    await new Promise((r) => setTimeout(r, 2000));
    expect((await api.call(rolloutRoutes.listRollouts, { query: { projectId } })).items).toHaveLength(2);
    // the next test's line has the machine to itself
    await driver.stop();
    await Promise.all(agents.map((a) => a.process.kill("SIGTERM")));
  }, 360_000);

  it("aborts a shadow rollout still baking when an approved version is due, and stages that version", async () => {
    const id = await line("line-s", ["cam-9"], 900);
    const log: string[] = [];
    const driver = new RolloutDriver({
      api,
      projectId: id,
      tag: "line-1",
      canary: "cam-9",
      firstModel: "hand-built",
      reviewer: false,
      log: (l) => log.push(l),
      intervalMs: 500,
      bakeSeconds: 2,
      // more frames than the test will ever see: the waves keep baking
      minFrames: 1_000_000,
    });
    drivers.push(driver);
    driver.start();
    const list = async () => (await api.call(rolloutRoutes.listRollouts, { query: { projectId: id } })).items;
    await waitFor(
      "the challenger shadows on the canary",
      async () => {
        const shadow = (await list()).find((r) => r.mode === "shadow");
        return shadow?.state === "running" && (await runs("cam-9"))?.shadow?.modelVersionId === shadow.modelVersionId;
      },
      { timeoutMs: 90_000 },
    ).catch(async (err: Error) => {
      const seen = JSON.stringify({ rollouts: (await list()).map((r) => r.state), cam9: await runs("cam-9") });
      throw new Error(`${err.message}\n${log.join("\n")}\n${seen}`);
    });
    const v3 = await pushBlemishModel(api, id, { width: 80, height: 60, fileName: "blemish-80x60.onnx" });
    await api.call(registryRoutes.approve, {
      params: { id: v3.id },
      body: { by: "test", reason: "newer", deploy: false },
    });
    // created planned, then its canary deployed: wait for it to be running, not just to exist
    await waitFor("the deploy rollout starts", async () =>
      (await list()).some((r) => r.modelVersionId === v3.id && r.state === "running"),
    );
    const [deploy, shadow] = await list();
    expect(deploy).toMatchObject({ modelVersionId: v3.id, mode: "deploy", state: "running" });
    expect(shadow).toMatchObject({ mode: "shadow", state: "aborted", reason: "superseded by the approved v3" });
    await waitFor("the driver logs the abort", () =>
      /^ {2}rollout {3}v2 shadow: aborted \(superseded by the approved v3\)$/m.test(log.join("\n")),
    );
    expect(log.join("\n")).toMatch(/^ {2}rollout {3}v3 deploy over v1 to line-1: rol_\S+, waves cam-9 \(×2\)/m);
    // the abort is said once, not again when the next look finds it aborted
    await new Promise((r) => setTimeout(r, 2000));
    expect(log.filter((l) => l.includes("v2 shadow: aborted") || l.includes("v2 shadow: ABORTED"))).toHaveLength(1);
    // aborting leaves devices as they are: the challenger still shadows, now beside v3
    await waitFor(
      "cam-9 runs v3 with the challenger beside it",
      async () => {
        const p = await runs("cam-9");
        return p?.bundle?.modelVersionId === v3.id && p.shadow?.modelVersionId === shadow!.modelVersionId;
      },
      { timeoutMs: 30_000 },
    );
  }, 180_000);
});
