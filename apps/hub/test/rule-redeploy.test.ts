import type { KensaClient } from "@kensa/client";
import {
  type BundleManifest,
  fleetRoutes,
  type ModelManifest,
  projectRoutes,
  registryRoutes,
  withProjectRule,
} from "@kensa/contracts";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoredDesired } from "../src/fleet/desired-state.js";
import { startHub, type TestHub } from "./helpers.js";

/**
 * A changed incident rule is bundled anew for the project's devices: each device ends on the
 * model it ran (whatever order its deployments came in), and a device enrolled later with a tag
 * inherits a bundle with the new rule.
 */
describe("redeploying after an incident rule changes", () => {
  let t: TestHub;
  let api: KensaClient;
  let projectId: string;
  const models: Record<string, string> = {};

  const wants = async () => {
    const rows = await t.hub.store.db.selectFrom("devices").select(["id", "desired"]).execute();
    const out: Record<string, { model: string; bundle: string }> = {};
    for (const r of rows) {
      const p = (JSON.parse(r.desired ?? "null") as StoredDesired | null)?.pipelines.find((x) => x.id === "default");
      if (p?.bundle) out[r.id] = { model: p.bundle.modelVersionId, bundle: p.bundle.sha256 };
    }
    return out;
  };
  const ruleOf = async (bundleSha: string) => {
    const bytes = await api.call(fleetRoutes.getBundle, { params: { sha: bundleSha } });
    const manifest = (JSON.parse(new TextDecoder().decode(bytes as unknown as Uint8Array)) as BundleManifest).manifest;
    return manifest.rules?.[0];
  };
  const deploy = (model: string, target: { deviceIds?: string[]; tags?: string[] }) =>
    api.call(fleetRoutes.createDeployment, {
      body: { modelVersionId: model, pipeline: "default", target: { deviceIds: [], tags: [], ...target } },
    });

  beforeAll(async () => {
    t = await startHub();
    api = t.client;
    const project = await api.call(projectRoutes.create, {
      body: {
        slug: "redeploy",
        name: "Redeploy",
        task: "classification",
        labels: ["ok", "defect"],
        okLabels: ["ok"],
        rule: { type: "threshold", labels: ["defect"], minScore: 0.5 },
      },
    });
    projectId = project.id;
    for (const [name, size] of [
      ["v1", 64],
      ["v2", 48],
      ["v3", 56],
    ] as const) {
      const m = buildBlemishModel({ width: size, height: size });
      const form = new FormData();
      form.set("projectId", projectId);
      form.set("manifest", JSON.stringify(m.manifest));
      form.set("model", new Blob([Buffer.from(m.onnx)]), `${name}.onnx`);
      models[name] = (await api.call(registryRoutes.upload, { upload: form })).id;
    }
    for (const [id, tags] of [
      ["d1", []],
      ["d2", []],
      ["t1", ["line1"]],
    ] as const) {
      await api.call(fleetRoutes.enroll, { body: { projectId, id, tags: [...tags] } });
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it("keeps every device on its model, with the new rule in every bundle", async () => {
    await deploy(models.v1!, { deviceIds: ["d1"] });
    await deploy(models.v2!, { deviceIds: ["d1", "d2"] });
    await deploy(models.v1!, { deviceIds: ["d1"] });
    // the tag deployment is what devices enrolled later inherit, though no device runs it now
    await deploy(models.v3!, { tags: ["line1"] });
    await deploy(models.v2!, { deviceIds: ["t1"] });
    const before = await wants();
    expect(before).toMatchObject({ d1: { model: models.v1 }, d2: { model: models.v2 }, t1: { model: models.v2 } });

    await api.call(projectRoutes.update, {
      params: { id: projectId },
      body: { rule: { type: "threshold", labels: ["defect"], minScore: 0.8 } },
    });
    let after: Awaited<ReturnType<typeof wants>> = {};
    for (let i = 0; i < 100; i++) {
      after = await wants();
      // the replay rewrites devices deployment by deployment: wait for its end, not a step of it
      const done = (id: string) => after[id]?.bundle !== before[id]?.bundle && after[id]?.model === before[id]?.model;
      if (Object.keys(before).every(done)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const id of ["d1", "d2", "t1"]) {
      expect(after[id]?.model, id).toBe(before[id]?.model);
      expect(after[id]?.bundle, id).not.toBe(before[id]?.bundle);
      expect((await ruleOf(after[id]!.bundle))?.minScore, id).toBe(0.8);
    }
  });

  it("gives a device enrolled later with a tag the bundle with the new rule", async () => {
    await api.call(fleetRoutes.enroll, { body: { projectId, id: "t3", tags: ["line1"] } });
    const t3 = (await wants()).t3;
    expect(t3?.model).toBe(models.v3);
    expect((await ruleOf(t3!.bundle))?.minScore).toBe(0.8);
  });

  it("names a rule over many long labels within the 200 characters a rule name may have", () => {
    const labels = ["ok", ...[1, 2, 3].map((i) => `${"x".repeat(62)}-${i}`)];
    const manifest = { ...buildBlemishModel().manifest, labels } as ModelManifest;
    const rule = withProjectRule(manifest, { type: "threshold", labels: [], minScore: 0.5 }, { okLabels: ["ok"] })
      .rules?.[0];
    expect(rule?.name).toBe("threshold: 3 finding labels ≥ 0.50");
    expect(rule?.labels).toHaveLength(3);
  });
});
