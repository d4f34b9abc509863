import { createHash } from "node:crypto";
import {
  type BundleManifest,
  type Deployment,
  type DeploymentTargets,
  type GateCriterionResult,
  goldenOutputOf,
  type ModelVersion,
  type Reported,
  type SelfTestReport,
  topics,
} from "@kensa/contracts";
import { Inferencer } from "@kensa/vision";
import { BLEMISH_PARAMS, buildBlemishGraph, buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoredDesired } from "../src/fleet/desired-state.js";
import { backends, basic, connectDevice, seed, startHub, type TestHub } from "./helpers.js";
import { uploadFrames } from "./training-fixtures.js";

const list = await backends("bundle_targets");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const fp32 = buildBlemishModel();
// the int8 file stands in as a second model file with the same inputs and outputs; what
// matters here is which file each target ships and that its golden outputs are its own
const int8Bytes = buildBlemishGraph(64, 64, { ...BLEMISH_PARAMS, okBias: BLEMISH_PARAMS.okBias * 0.6 }, false);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.each(list)("per-target bundles ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let secrets: Record<string, string>;
  let model: ModelVersion;
  let plain: ModelVersion;
  let snapshotId: string;

  const deploy = (modelVersionId: string, precision?: string) =>
    t.call<Deployment & { error?: { code: string } }>("POST", "/api/v1/deployments", {
      body: { modelVersionId, target: { tags: ["line"] }, ...(precision ? { precision } : {}) },
    });
  const bundleOf = async (s: string) =>
    (await t.call<BundleManifest>("GET", `/api/v1/bundles/${s}`)).json as BundleManifest;
  const desiredBundle = async (deviceId: string) => {
    const row = await t.hub.store.db
      .selectFrom("devices")
      .select("desired")
      .where("id", "=", deviceId)
      .executeTakeFirstOrThrow();
    return (JSON.parse(row.desired!) as StoredDesired).pipelines.find((p) => p.id === "default")!.bundle!;
  };
  const gate = async (pass: boolean) => {
    const results: GateCriterionResult[] = [
      {
        name: "int8_drop",
        description: "the int8 variant's accuracy is within 0.02 of fp32",
        hard: false,
        threshold: 0.02,
        champion: null,
        challenger: pass ? 0.01 : 0.2,
        pass,
      },
    ];
    await t.hub.store.db
      .insertInto("gate_reports")
      .values({
        id: `gat_${Math.random().toString(36).slice(2)}`,
        project_id: projectId,
        model_version_id: model.id,
        champion_id: null,
        snapshot_id: snapshotId,
        criteria: "{}",
        results: JSON.stringify(results),
        decision: pass ? "auto_approved" : "awaiting_approval",
        reason: "test",
        deployment_id: null,
        created_at: new Date().toISOString(),
      } as never)
      .execute();
  };

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    const devices = [
      { id: "cam-x64", arch: "x64" },
      { id: "cam-arm", arch: "arm64" },
      { id: "cam-v7", arch: "armv7" },
      { id: "cam-new" },
    ];
    ({ projectId, secrets } = await seed(t.call, "targets", []));
    secrets = {};
    for (const d of devices) {
      const e = await t.call<{ secret: string }>("POST", "/api/v1/devices", {
        body: { projectId, id: d.id, tags: ["line"], ...(d.arch ? { arch: d.arch } : {}) },
      });
      expect(e.status).toBe(201);
      secrets[d.id] = e.json.secret;
    }
    await uploadFrames(t.call, projectId, 16, { seed: 3, width: 96, height: 72, defectRate: 0.5 });
    const snap = await t.call<{ id: string }>("POST", `/api/v1/projects/${projectId}/snapshots`, {
      body: { ratios: { train: 0.4, val: 0.1, test: 0.5 } },
    });
    expect(snap.status).toBe(201);
    snapshotId = snap.json.id;
    const upload = async (bytes: Uint8Array) => {
      const form = new FormData();
      form.set("projectId", projectId);
      form.set("manifest", JSON.stringify(fp32.manifest));
      form.set("model", new Blob([bytes as BlobPart]), "m.onnx");
      const r = await t.call<ModelVersion>("POST", "/api/v1/models", { raw: form });
      expect(r.status).toBe(201);
      return r.json;
    };
    model = await upload(fp32.onnx);
    plain = await upload(buildBlemishGraph(64, 64, { ...BLEMISH_PARAMS, okBias: BLEMISH_PARAMS.okBias * 1.1 }, false));
    // the int8 variant a trainer would have written, and an approval
    const put = await t.hub.blobs.put(int8Bytes);
    await t.hub.store.db
      .updateTable("model_versions")
      .set({ int8_sha256: put.sha256 })
      .where("id", "=", model.id)
      .execute();
    for (const m of [model, plain]) {
      const ok = await t.call("POST", `/api/v1/models/${m.id}/approve`, {
        body: { by: "qa", reason: "test", deploy: false },
      });
      expect(ok.status).toBe(200);
    }
    model = (await t.call<ModelVersion>("GET", `/api/v1/models/${model.id}`)).json;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it("ships int8 within the gate's budget to x64 and arm64, fp32 to armv7 and to a device of unknown architecture", async () => {
    await gate(true);
    const r = await deploy(model.id);
    expect(r.status).toBe(201);
    const dep = r.json;
    const byDevice = new Map(dep.targets!.map((x) => [x.deviceId, x]));
    expect(byDevice.get("cam-x64")!.target).toEqual({ arch: "x64", precision: "int8", runtime: "onnxruntime-node" });
    expect(byDevice.get("cam-arm")!.target).toEqual({ arch: "arm64", precision: "int8", runtime: "onnxruntime-node" });
    expect(byDevice.get("cam-v7")!.target).toEqual({ arch: "armv7", precision: "fp32", runtime: "onnxruntime-web" });
    expect(byDevice.get("cam-new")!.target).toEqual({ arch: "any", precision: "fp32", runtime: "onnxruntime-node" });
    // one bundle per target, each device's desired state names its own
    expect(new Set(dep.targets!.map((x) => x.bundleSha256)).size).toBe(4);
    for (const [id, x] of byDevice) {
      const ref = await desiredBundle(id);
      expect(ref.sha256, id).toBe(x.bundleSha256);
      expect(ref.modelSha256, id).toBe(x.target.precision === "int8" ? sha(int8Bytes) : model.sha256);
    }
    const int8Bundle = await bundleOf(byDevice.get("cam-arm")!.bundleSha256);
    const fp32Bundle = await bundleOf(byDevice.get("cam-v7")!.bundleSha256);
    expect(int8Bundle.model).toEqual({ sha256: sha(int8Bytes), size: int8Bytes.byteLength, format: "onnx" });
    expect(fp32Bundle.model.sha256).toBe(model.sha256);

    // golden frames: test images of the snapshot, outputs of that bundle's own model file
    for (const [bundle, bytes] of [
      [int8Bundle, int8Bytes],
      [fp32Bundle, fp32.onnx],
    ] as const) {
      const g = bundle.golden!;
      expect(g.source).toBe("snapshot");
      expect(g.snapshotId).toBe(snapshotId);
      expect(g.frames.length).toBeGreaterThanOrEqual(4);
      expect(g.frames.length).toBeLessThanOrEqual(6);
      const inf = await Inferencer.create(bytes, bundle.manifest, { intraOpThreads: 1 });
      try {
        for (const f of g.frames) {
          const image = await t.hub.blobs.get(f.sha256);
          expect(f.size).toBe(image!.byteLength);
          expect(f.expected).toEqual(goldenOutputOf((await inf.infer(image!)).result));
        }
      } finally {
        await inf.close();
      }
    }
    expect(int8Bundle.golden!.tolerances.top1Agreement).toBeLessThan(fp32Bundle.golden!.tolerances.top1Agreement);
    // the two files really disagree somewhere: golden outputs are per file
    expect(int8Bundle.golden!.frames.map((f) => f.expected)).not.toEqual(
      fp32Bundle.golden!.frames.map((f) => f.expected),
    );

    // a device fetches its int8 model and golden frames; never a blob no bundle pins
    const auth = { auth: basic("cam-arm", secrets["cam-arm"]!) };
    expect((await t.call("GET", `/api/v1/blobs/${sha(int8Bytes)}`, auth)).status).toBe(200);
    expect((await t.call("GET", `/api/v1/blobs/${int8Bundle.golden!.frames[0]!.sha256}`, auth)).status).toBe(200);
    const manifest = JSON.parse(Buffer.from((await t.hub.blobs.get(snapshotId))!).toString("utf8")) as {
      items: Array<{ image: { sha256: string } }>;
    };
    const pinned = new Set(int8Bundle.golden!.frames.map((f) => f.sha256));
    const unpinned = manifest.items.find((i) => !pinned.has(i.image.sha256))!;
    expect((await t.call("GET", `/api/v1/blobs/${unpinned.image.sha256}`, auth)).status).toBe(404);

    // the same deployment again builds the same bundles
    const again = await deploy(model.id);
    expect(again.json.targets).toEqual(dep.targets);

    const view = await t.call<DeploymentTargets>("GET", `/api/v1/deployments/${dep.id}/targets`);
    expect(view.status).toBe(200);
    expect(view.json.precision).toBe("auto");
    expect(view.json.int8.eligible).toBe(true);
    expect(view.json.devices.map((d) => [d.deviceId, d.target.precision, d.selfTest])).toEqual([
      ["cam-arm", "int8", null],
      ["cam-new", "fp32", null],
      ["cam-v7", "fp32", null],
      ["cam-x64", "int8", null],
    ]);
    expect(view.json.byArch.every((g) => g.pending === g.devices)).toBe(true);
  });

  it("ships fp32 everywhere when int8 is over budget, and honours a per-deployment override", async () => {
    await new Promise((r) => setTimeout(r, 5));
    await gate(false);
    const auto = (await deploy(model.id)).json;
    expect(auto.targets!.map((x) => x.target.precision)).toEqual(["fp32", "fp32", "fp32", "fp32"]);
    const view = await t.call<DeploymentTargets>("GET", `/api/v1/deployments/${auto.id}/targets`);
    expect(view.json.int8).toEqual({ eligible: false, reason: expect.stringContaining("over the gate's budget") });

    // an explicit int8 overrides the budget, never the device
    const forced = (await deploy(model.id, "int8")).json;
    const precisions = Object.fromEntries(forced.targets!.map((x) => [x.deviceId, x.target.precision]));
    expect(precisions).toEqual({ "cam-x64": "int8", "cam-arm": "int8", "cam-v7": "fp32", "cam-new": "fp32" });
    expect(forced.precision).toBe("int8");

    await gate(true);
    const fp = (await deploy(model.id, "fp32")).json;
    expect(fp.targets!.every((x) => x.target.precision === "fp32")).toBe(true);

    const none = await deploy(plain.id, "int8");
    expect(none.status).toBe(422);
    expect(none.json.error?.code).toBe("KENSA_ERR_DEPLOYMENT_PRECISION_UNAVAILABLE");
    const bad = await deploy(model.id, "fp16");
    expect(bad.status).toBe(400);
  });

  it("takes the architecture a device reports over its enrolment, and stores the self-test it reports", async () => {
    const client = await connectDevice(t.mqttUrl, "cam-new", secrets["cam-new"]!);
    const dep1 = (await deploy(model.id)).json;
    const own = dep1.targets!.find((x) => x.deviceId === "cam-new")!;
    const selfTest: SelfTestReport = {
      bundleSha256: own.bundleSha256,
      status: "failed",
      arch: "arm64",
      precision: "fp32",
      figures: { frames: 6, top1Agreement: 0.5, maxScoreDelta: 0.4, meanBoxIou: null, meanMaskIou: null },
      tolerances: { top1Agreement: 1, scoreDelta: 0.02, boxIou: 0.9, maskIou: 0.85 },
      note: "top-1 agreement 0.5 < 1",
      ms: 12,
      ts: new Date().toISOString(),
    };
    const reported: Reported = {
      v: 1,
      ts: new Date().toISOString(),
      agentVersion: "test",
      arch: "arm64",
      platform: "linux",
      desiredRev: 1,
      pipelines: [{ id: "default", status: "loaded", bundle: null, selfTest }],
      sources: [],
    };
    try {
      await client.publishAsync(topics.reported("cam-new"), JSON.stringify(reported), { qos: 1, retain: true });
      await waitUntil(async () => {
        const v = await t.call<DeploymentTargets>("GET", `/api/v1/deployments/${dep1.id}/targets`);
        return v.json.devices.find((d) => d.deviceId === "cam-new")?.selfTest !== null;
      });
      const v = (await t.call<DeploymentTargets>("GET", `/api/v1/deployments/${dep1.id}/targets`)).json;
      expect(v.devices.find((d) => d.deviceId === "cam-new")!.selfTest).toEqual(selfTest);
      expect(v.byArch.find((g) => g.arch === "any")).toMatchObject({ devices: 1, failed: 1, pending: 0 });
      expect(v.byArch.find((g) => g.arch === "any")!.worst).toEqual(selfTest.figures);

      // it reported arm64: the next deployment gives it the arm64 int8 bundle
      const dep2 = (await deploy(model.id)).json;
      expect(dep2.targets!.find((x) => x.deviceId === "cam-new")!.target).toEqual({
        arch: "arm64",
        precision: "int8",
        runtime: "onnxruntime-node",
      });
      expect(dep2.targets!.find((x) => x.deviceId === "cam-new")!.bundleSha256).toBe(
        dep2.targets!.find((x) => x.deviceId === "cam-arm")!.bundleSha256,
      );
    } finally {
      await client.endAsync(true);
    }
    const missing = await t.call<{ error: { code: string } }>("GET", "/api/v1/deployments/dep_nope/targets");
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("KENSA_ERR_DEPLOYMENT_NOT_FOUND");
  });

  it("gives a device enrolled later with the tag the deployment's bundle for its architecture", async () => {
    const dep = (await deploy(model.id)).json;
    const arm = dep.targets!.find((x) => x.deviceId === "cam-arm")!;
    const e = await t.call("POST", "/api/v1/devices", {
      body: { projectId, id: "cam-arm-2", tags: ["line"], arch: "arm64" },
    });
    expect(e.status).toBe(201);
    expect((await desiredBundle("cam-arm-2")).sha256).toBe(arm.bundleSha256);
    const v = (await t.call<DeploymentTargets>("GET", `/api/v1/deployments/${dep.id}/targets`)).json;
    expect(v.devices.find((d) => d.deviceId === "cam-arm-2")).toMatchObject({
      bundleSha256: arm.bundleSha256,
      target: { arch: "arm64", precision: "int8" },
    });
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}
