import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { datasetRoutes, fleetRoutes, type ModelVersion, type ReportedPipeline, registryRoutes } from "@kensa/contracts";
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
  uploadModel,
} from "@kensa/scenario";
import { renderFrame } from "@kensa/synth";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { buildBlemishModel, GraphBuilder } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * A model that loads, warms up and has the blemish model's inputs and outputs, but whose scores
 * carry fresh random noise on every run (RandomNormalLike without a seed): what the hub computed
 * for its golden frames is not what any device computes. It stands for a model that computes
 * something else on the device than where it was judged.
 */
function noisyModel(): Uint8Array {
  const g = new GraphBuilder("kensa-noisy");
  const image = g.input("image", ["N", 3, 64, 64]);
  const flat = g.node("Flatten", [image], { axis: { int: 1 } });
  const mean = g.node("ReduceMean", [flat], { axes: { ints: [1] }, keepdims: { int: 1 } });
  const logits = g.node("Mul", [mean, g.initializer("w", [1, 2], [1, -1])]);
  const noise = g.node("RandomNormalLike", [logits], { scale: { float: 4 } });
  const noisy = g.node("Add", [logits, noise]);
  g.output(g.node("Softmax", [noisy], { axis: { int: 1 } }, "scores"), ["N", 2]);
  return g.toBytes({ docString: "Kensa test fixture: scores with random noise" });
}

/** A real hub and a real agent process: the agent runs each bundle's golden frames before it swaps. */
describe("the golden-frame self-test end to end", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let api: KensaClient;
  let agent: ScenarioAgent;
  let good: ModelVersion;
  let noisy: ModelVersion;

  const pipeline = async (): Promise<ReportedPipeline | undefined> =>
    (await api.call(fleetRoutes.get, { params: { id: "cam-g" } })).reported?.pipelines.find((p) => p.id === "default");

  const evaluated = async (model: ModelVersion, snapshotId: string) => {
    await api.call(registryRoutes.evaluate, { params: { id: model.id }, body: { snapshotId } });
    await waitFor(
      `evaluation of ${model.id}`,
      async () => {
        const list = await api.call(registryRoutes.listEvaluations, { params: { id: model.id } });
        const e = list.items[0];
        if (e?.status === "failed") throw new Error(`evaluation failed: ${JSON.stringify(e.error)}`);
        return e?.status === "succeeded";
      },
      { timeoutMs: 30_000 },
    );
  };

  beforeAll(async () => {
    dir = await tempDir();
    hub = await startScenarioHub({ createHub, dataDir: join(dir.path, "hub") });
    api = hub.client;
    const project = await createInspectionProject(api, { slug: "golden" });
    for (let i = 0; i < 16; i++) {
      const f = await renderFrame(i, { seed: 5, width: 96, height: 72, defectRate: 0.5 });
      await api.call(datasetRoutes.uploadSample, {
        params: { id: project.id },
        query: { source: "synthetic", classes: f.defect ? "defect" : "ok" },
        upload: new Blob([f.jpeg as BlobPart], { type: "image/jpeg" }),
      });
    }
    const snap = await api.call(datasetRoutes.createSnapshot, {
      params: { id: project.id },
      body: {
        seed: "golden",
        by: "e2e",
        groupBucketSec: 3600,
        include: "labeled",
        ratios: { train: 0.4, val: 0.1, test: 0.5 },
      },
    });
    good = await pushBlemishModel(api, project.id);
    noisy = await uploadModel(
      api,
      project.id,
      { onnx: noisyModel(), manifest: buildBlemishModel().manifest },
      "noisy.onnx",
    );
    await evaluated(good, snap.id);
    await evaluated(noisy, snap.id);
    const agents = await enrollAgents(api, project.id, [{ id: "cam-g", tags: ["line"] }], {
      dir: dir.path,
      sources: [syntheticCamera(3, { fps: 2 })],
      config: { reportIntervalMs: 1000 },
    });
    agent = agents[0]!;
    await waitFor(
      "the agent online",
      async () => (await api.call(fleetRoutes.get, { params: { id: "cam-g" } })).presence === "online",
    );
  }, 120_000);

  afterAll(async () => {
    if (agent) {
      const notable = agent.process.logs.filter((l) => l.level === "error" || l.level === "stderr");
      if (notable.length) console.log(notable.map((l) => JSON.stringify(l)).join("\n"));
      await agent.process.kill("SIGKILL");
    }
    await hub?.close();
    await dir?.remove();
  });

  it("passes a good model's golden frames, reports the figures, and swaps", async () => {
    const dep = await deployToDevices(api, good.id, ["cam-g"]);
    const p = await waitFor(
      "the good bundle loaded",
      async () => {
        const p = await pipeline();
        return p?.status === "loaded" && p.bundle?.sha256 === dep.bundleSha256 && p.selfTest ? p : null;
      },
      { timeoutMs: 30_000 },
    );
    expect(p.selfTest).toMatchObject({
      bundleSha256: dep.bundleSha256,
      status: "passed",
      arch: "x64",
      precision: "fp32",
    });
    expect(p.selfTest!.figures.frames).toBeGreaterThanOrEqual(4);
    expect(p.selfTest!.figures.top1Agreement).toBe(1);
    expect(p.selfTest!.figures.maxScoreDelta).toBeLessThanOrEqual(1e-4);
    const view = await api.call(fleetRoutes.deploymentTargets, { params: { id: dep.id } });
    await waitFor("the hub stored the self-test", async () => {
      const v = await api.call(fleetRoutes.deploymentTargets, { params: { id: dep.id } });
      return v.devices[0]?.selfTest?.status === "passed";
    });
    expect(view.devices[0]!.target.arch).toBe(process.arch === "arm" ? "armv7" : process.arch);
  });

  it("refuses a model whose outputs differ from its golden frames, keeps the old one and reports why", async () => {
    const before = await pipeline();
    const dep = await deployToDevices(api, noisy.id, ["cam-g"]);
    const p = await waitFor(
      "the noisy bundle refused",
      async () => {
        const p = await pipeline();
        return p?.error?.bundleSha256 === dep.bundleSha256 ? p : null;
      },
      { timeoutMs: 30_000 },
    );
    expect(p.error!.code).toBe("KENSA_ERR_BUNDLE_SELF_TEST_FAILED");
    expect(p.error!.message).toMatch(/top-1 agreement|score delta/);
    // the old model keeps running
    expect(p.status).toBe("loaded");
    expect(p.bundle?.sha256).toBe(before!.bundle!.sha256);
    expect(p.selfTest).toMatchObject({ bundleSha256: dep.bundleSha256, status: "failed" });
    expect(p.selfTest!.figures.maxScoreDelta!).toBeGreaterThan(p.selfTest!.tolerances!.scoreDelta);
    const v = await waitFor("the hub stored the failed self-test", async () => {
      const v = await api.call(fleetRoutes.deploymentTargets, { params: { id: dep.id } });
      return v.devices[0]?.selfTest?.status === "failed" ? v : null;
    });
    expect(v.byArch[0]).toMatchObject({ devices: 1, failed: 1, passed: 0 });
    expect(v.byArch[0]!.worst!.maxScoreDelta).toBe(p.selfTest!.figures.maxScoreDelta);
  });
});
