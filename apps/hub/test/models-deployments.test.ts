import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { type BundleManifest, type Deployment, type Desired, type ModelVersion, topics } from "@kensa/contracts";
import { tempDir } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiCall, backends, basic, connectDevice, nextMessage, seed, startHub, type TestHub } from "./helpers.js";

const list = await backends("models");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const model = buildBlemishModel();
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function upload(
  call: ApiCall,
  projectId: string,
  bytes: Uint8Array,
  manifest: unknown,
  extra: Record<string, string> = {},
) {
  const form = new FormData();
  form.set("projectId", projectId);
  form.set("manifest", typeof manifest === "string" ? manifest : JSON.stringify(manifest));
  for (const [k, v] of Object.entries(extra)) form.set(k, v);
  form.set("model", new Blob([bytes as BlobPart], { type: "application/octet-stream" }), "blemish.onnx");
  return call<ModelVersion & { error?: { code: string; message: string } }>("POST", "/api/v1/models", { raw: form });
}

async function blobFiles(dataDir: string): Promise<string[]> {
  const root = join(dataDir, "blobs", "sha256");
  const out: string[] = [];
  for (const d of await readdir(root).catch(() => [] as string[])) out.push(...(await readdir(join(root, d))));
  return out;
}

async function desiredOf(url: string, id: string, secret: string): Promise<Desired> {
  const c = await connectDevice(url, id, secret);
  try {
    const msg = nextMessage(c, topics.desired(id));
    await c.subscribeAsync(topics.desired(id), { qos: 1 });
    const m = await msg;
    expect(m.retain).toBe(true);
    return JSON.parse(m.payload.toString()) as Desired;
  } finally {
    await c.endAsync(true);
  }
}

describe.each(list)("models and deployments ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let secrets: Record<string, string>;

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    ({ projectId, secrets } = await seed(t.call, "blemish", [
      { id: "cam-1", tags: ["line-1"] },
      { id: "cam-2", tags: ["line-2"] },
    ]));
  });
  afterAll(async () => {
    await t.close();
  });

  it("rejects a file that is not ONNX and stores nothing", async () => {
    const blobsBefore = await blobFiles(t.dir.path);
    const r = await upload(t.call, projectId, new TextEncoder().encode("definitely not a protobuf"), model.manifest);
    expect(r.status).toBe(422);
    expect(r.json.error?.code).toBe("KENSA_ERR_MODEL_INVALID_ONNX");
    expect(await blobFiles(t.dir.path)).toEqual(blobsBefore);
    expect(
      (await t.call<{ items: unknown[] }>("GET", `/api/v1/models?projectId=${projectId}`)).json.items,
    ).toHaveLength(0);
  });

  it("rejects a manifest that does not match the model, an invalid manifest and foreign labels", async () => {
    const blobsBefore = await blobFiles(t.dir.path);
    const wrongShape = { ...model.manifest, input: { ...model.manifest.input, width: 32, height: 48 } };
    const mismatch = await upload(t.call, projectId, model.onnx, wrongShape);
    // a fixed-size graph fed another size, or one with other labels, must not be accepted
    expect(mismatch.json.error?.code).toBe("KENSA_ERR_MODEL_MANIFEST_MISMATCH");
    const wrongOutput = {
      ...model.manifest,
      postprocessing: { type: "classification", activation: "none", output: "nope" },
    };
    expect((await upload(t.call, projectId, model.onnx, wrongOutput)).json.error?.code).toBe(
      "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
    );

    const invalid = await upload(t.call, projectId, model.onnx, { ...model.manifest, colour: "red" });
    expect(invalid.status).toBe(422);
    expect(invalid.json.error?.code).toBe("KENSA_ERR_MANIFEST_INVALID");
    expect(invalid.json.error?.message).toContain("/colour");
    expect((await upload(t.call, projectId, model.onnx, "{not json")).json.error?.code).toBe(
      "KENSA_ERR_MANIFEST_INVALID",
    );
    const labels = await upload(t.call, projectId, model.onnx, { ...model.manifest, labels: ["defect", "ok"] });
    expect(labels.json.error?.code).toBe("KENSA_ERR_MANIFEST_INVALID");
    expect(labels.json.error?.message).toContain("/labels");

    const form = new FormData();
    form.set("projectId", projectId);
    const missing = await t.call<{ error: { code: string } }>("POST", "/api/v1/models", { raw: form });
    expect(missing.json.error.code).toBe("KENSA_ERR_UPLOAD_MISSING_PART");
    expect((await upload(t.call, "prj_nope", model.onnx, model.manifest)).json.error?.code).toBe(
      "KENSA_ERR_PROJECT_NOT_FOUND",
    );
    expect(await blobFiles(t.dir.path)).toEqual(blobsBefore);
  });

  let v1: ModelVersion;
  it("registers versions 1, 2 as candidates and serves the file", async () => {
    const r = await upload(t.call, projectId, model.onnx, model.manifest);
    expect(r.status).toBe(201);
    v1 = r.json;
    expect(v1).toMatchObject({
      projectId,
      version: 1,
      stage: "candidate",
      sha256: sha(model.onnx),
      size: model.onnx.byteLength,
    });
    expect(v1.name).toBe("blemish");
    const r2 = await upload(t.call, projectId, model.onnx, model.manifest, { name: "again" });
    expect(r2.json).toMatchObject({ version: 2, name: "again", sha256: v1.sha256 });
    const listed = await t.call<{ items: ModelVersion[] }>("GET", `/api/v1/models?projectId=${projectId}`);
    expect(listed.json.items.map((m) => m.version)).toEqual([2, 1]);
    expect((await t.call<ModelVersion>("GET", `/api/v1/models/${v1.id}`)).json.manifest).toEqual(model.manifest);
    const file = await fetch(`${t.httpUrl}/api/v1/models/${v1.id}/file`, {
      headers: { authorization: `Bearer ${t.hub.adminToken}` },
    });
    expect(sha(new Uint8Array(await file.arrayBuffer()))).toBe(v1.sha256);
  });

  it("deploys a bundle as retained desired state the device receives and can download", async () => {
    const noTargets = await t.call("POST", "/api/v1/deployments", {
      body: { modelVersionId: v1.id, target: { tags: ["line-9"] } },
    });
    expect(noTargets.json).toMatchObject({ error: { code: "KENSA_ERR_DEPLOYMENT_NO_TARGETS" } });

    const d = await t.call<Deployment>("POST", "/api/v1/deployments", {
      body: { modelVersionId: v1.id, target: { deviceIds: ["cam-1"] } },
    });
    expect(d.status).toBe(201);
    expect(d.json).toMatchObject({ deviceIds: ["cam-1"], pipeline: "default", projectId, modelVersionId: v1.id });

    const desired = await desiredOf(t.mqttUrl, "cam-1", secrets["cam-1"]!);
    expect(desired).toMatchObject({ v: 1, rev: 1, deploymentId: d.json.id });
    const ref = desired.pipelines[0]!.bundle!;
    expect(ref).toMatchObject({
      sha256: d.json.bundleSha256,
      modelVersionId: v1.id,
      modelSha256: v1.sha256,
      url: `${t.httpUrl}/api/v1/bundles/${d.json.bundleSha256}`,
      modelUrl: `${t.httpUrl}/api/v1/blobs/${v1.sha256}`,
    });

    // the device downloads both and they hash to what desired says
    const auth = { authorization: basic("cam-1", secrets["cam-1"]!) };
    const bundleBytes = new Uint8Array(await (await fetch(ref.url, { headers: auth })).arrayBuffer());
    expect(sha(bundleBytes)).toBe(ref.sha256);
    const bundle = JSON.parse(new TextDecoder().decode(bundleBytes)) as BundleManifest;
    expect(bundle).toMatchObject({
      schema: "kensa.bundle/v1",
      modelVersionId: v1.id,
      model: { sha256: v1.sha256, format: "onnx" },
    });
    // the model's manifest, with the project's incident rule (defaults: every non-OK label ≥ 0.5) compiled in
    expect(bundle.manifest).toEqual({
      ...model.manifest,
      rules: [
        {
          id: "project-rule",
          name: "threshold: defect ≥ 0.50",
          type: "threshold",
          labels: ["defect"],
          minScore: 0.5,
          topClassOnly: true,
        },
      ],
    });
    const modelBytes = new Uint8Array(await (await fetch(ref.modelUrl, { headers: auth })).arrayBuffer());
    expect(sha(modelBytes)).toBe(ref.modelSha256);

    // the device of the other line got nothing
    expect((await desiredOf(t.mqttUrl, "cam-2", secrets["cam-2"]!)).pipelines).toEqual([]);
  });

  it("refuses to deploy a rejected version with KENSA_ERR_MODEL_NOT_DEPLOYABLE, changing nothing", async () => {
    const r = await upload(t.call, projectId, model.onnx, model.manifest, { name: "turned-down" });
    const rejected = await t.call("POST", `/api/v1/models/${r.json.id}/reject`, {
      body: { by: "qa", reason: "flags good parts" },
    });
    expect(rejected.status).toBe(200);
    const before = await t.call<{ items: Deployment[] }>("GET", "/api/v1/deployments");
    const refused = await t.call("POST", "/api/v1/deployments", {
      body: { modelVersionId: r.json.id, target: { deviceIds: ["cam-1"] } },
    });
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ error: { code: "KENSA_ERR_MODEL_NOT_DEPLOYABLE" } });
    const after = await t.call<{ items: Deployment[] }>("GET", "/api/v1/deployments");
    expect(after.json.items).toHaveLength(before.json.items.length);
  });

  it("gives a later-enrolled device the tag deployments of its tags", async () => {
    const d = await t.call<Deployment>("POST", "/api/v1/deployments", {
      body: { modelVersionId: v1.id, target: { tags: ["line-2"] } },
    });
    expect(d.json.deviceIds).toEqual(["cam-2"]);
    const later = await t.call<{ secret: string; device: { desiredRev: number } }>("POST", "/api/v1/devices", {
      body: { projectId, id: "cam-3", tags: ["line-2"] },
    });
    expect(later.json.device.desiredRev).toBe(1);
    const desired = await desiredOf(t.mqttUrl, "cam-3", later.json.secret);
    expect(desired.deploymentId).toBe(d.json.id);
    expect(desired.pipelines[0]?.bundle?.sha256).toBe(d.json.bundleSha256);
    const deps = await t.call<{ items: Deployment[] }>("GET", "/api/v1/deployments");
    expect(deps.json.items.find((x) => x.id === d.json.id)?.deviceIds).toEqual(["cam-2", "cam-3"]);
    // untagged devices enrolled later get nothing
    const other = await t.call<{ secret: string; device: { desiredRev: number } }>("POST", "/api/v1/devices", {
      body: { projectId, id: "cam-4", tags: ["line-7"] },
    });
    expect(other.json.device.desiredRev).toBe(0);
  });

  it("refuses blobs and bundles to devices of other projects", async () => {
    const { secrets: s2 } = await seed(t.call, "other", [{ id: "other-1" }]);
    const auth = basic("other-1", s2["other-1"]!);
    expect((await t.call("GET", `/api/v1/blobs/${v1.sha256}`, { auth })).status).toBe(404);
    const deps = await t.call<{ items: Deployment[] }>("GET", "/api/v1/deployments");
    expect((await t.call("GET", `/api/v1/bundles/${deps.json.items[0]!.bundleSha256}`, { auth })).status).toBe(404);
  });
});

describe("desired state across a hub restart", () => {
  it("is re-published after a restart on the same data dir (new ports, new URLs)", async () => {
    const dir = await tempDir("kensa-restart-");
    try {
      let t = await startHub({}, { dir });
      const { projectId, secrets } = await seed(t.call, "restart", [{ id: "cam-r", tags: ["l"] }]);
      const v = await upload(t.call, projectId, model.onnx, model.manifest);
      const d = await t.call<Deployment>("POST", "/api/v1/deployments", {
        body: { modelVersionId: v.json.id, target: { tags: ["l"] } },
      });
      await t.close();

      t = await startHub({}, { dir });
      try {
        const desired = await desiredOf(t.mqttUrl, "cam-r", secrets["cam-r"]!);
        expect(desired.rev).toBe(1);
        expect(desired.deploymentId).toBe(d.json.id);
        expect(desired.pipelines[0]?.bundle?.url).toBe(`${t.httpUrl}/api/v1/bundles/${d.json.bundleSha256}`);
      } finally {
        await t.close();
      }
    } finally {
      await dir.remove();
    }
  });
});

describe("upload limit", () => {
  it("refuses a model above limits.modelBytes with KENSA_ERR_UPLOAD_TOO_LARGE and stores nothing", async () => {
    const t = await startHub({ limits: { modelBytes: 1024 } });
    try {
      const { projectId } = await seed(t.call, "small", []);
      const r = await upload(t.call, projectId, model.onnx, model.manifest);
      expect(r.status).toBe(413);
      expect(r.json.error?.code).toBe("KENSA_ERR_UPLOAD_TOO_LARGE");
      expect(await blobFiles(t.dir.path)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
