import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BundleManifest,
  type ClassificationResult,
  type Deployment,
  type Evaluation,
  type ModelManifest,
  type ModelVersion,
  parseManifest,
} from "@kensa/contracts";
import { needService, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { Inferencer } from "@kensa/vision";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importsTorch, resolvePython } from "../src/training/python.js";
import { basic, seed, startHub, type TestHub } from "./helpers.js";
import { uploadModel } from "./registry-gate-models.js";

const python = await resolvePython(undefined, process.env);
const skip = needService(`PyTorch for the built-in trainer (${python} -c "import torch")`, await importsTorch(python));
const TRAINER = join(dirname(fileURLToPath(import.meta.url)), "../../../trainers/torch");

interface Expected {
  file: string;
  key: string;
  probs: number[];
}

/** reference_parts.py makes every second part of a product defective: p0_001.png, p0_003.png, … */
const truth = (p: Expected) => (Number(basename(p.file).match(/_(\d+)\.png$/)![1]) % 2 === 1 ? 1 : 0);

/**
 * Reference-image inspection through the hub: a model the built-in trainer made with golden
 * references (tests/reference_parity.py) is registered, the hub evaluates it with the deployed
 * code path and gets the trainer's own verdicts, and its bundle carries the references, so that a
 * device building its Inferencer from the bundle alone infers every product's parts like the trainer.
 */
describe.skipIf(skip)("reference-image inspection through the hub", () => {
  let dir: TempDir;
  let t: TestHub;
  let projectId: string;
  let expected: Expected[];
  let model: { onnx: Uint8Array; manifest: ModelManifest };
  let version: ModelVersion;
  let secret: string;

  beforeAll(async () => {
    dir = await tempDir("kensa-reference-hub-");
    const r = spawnSync(python, ["tests/reference_parity.py", dir.path], { cwd: TRAINER, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`reference_parity.py exited ${r.status}: ${r.stderr}`);
    expected = JSON.parse(await readFile(join(dir.path, "expected.json"), "utf8"));
    model = {
      onnx: await readFile(join(dir.path, "model.onnx")),
      manifest: parseManifest(JSON.parse(await readFile(join(dir.path, "manifest.json"), "utf8"))),
    };
    t = await startHub({});
    const seeded = await seed(t.call, "reference", [{ id: "cam-ref" }]);
    projectId = seeded.projectId;
    secret = seeded.secrets["cam-ref"]!;
  }, 240_000);
  afterAll(async () => {
    await t?.close();
    await dir?.remove();
  });

  it("evaluates the reference-aware model on the default product's parts with the trainer's verdicts", async () => {
    // the snapshot's samples name no key: the model's default reference (p0) applies
    const parts = expected.filter((e) => e.key === "p0");
    for (const p of parts) {
      const cls = truth(p) ? "defect" : "ok";
      const up = await t.call("POST", `/api/v1/projects/${projectId}/samples?source=synthetic&classes=${cls}`, {
        raw: await readFile(p.file),
        headers: { "content-type": "image/png" },
      });
      expect(up.status, JSON.stringify(up.json)).toBe(201);
    }
    const snap = await t.call<{ id: string }>("POST", `/api/v1/projects/${projectId}/snapshots`, {
      body: { ratios: { train: 0, val: 0, test: 1 }, by: "qa" },
    });
    expect(snap.status, JSON.stringify(snap.json)).toBe(201);
    const put = await t.call("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: { evaluationSnapshotId: snap.json.id },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    version = await uploadModel(t.call, projectId, model, "reference");
    const ev = await t.call<Evaluation>("POST", `/api/v1/models/${version.id}/evaluations`, { body: {} });
    expect(ev.status, JSON.stringify(ev.json)).toBeLessThan(300);
    const done = await waitFor(
      "the evaluation",
      async () => {
        const e = (await t.call<Evaluation>("GET", `/api/v1/evaluations/${ev.json.id}`)).json;
        return e.status === "succeeded" || e.status === "failed" ? e : null;
      },
      { timeoutMs: 60_000 },
    );
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    const predicted = (p: Expected) => (p.probs[1]! > p.probs[0]! ? 1 : 0);
    const trainerAccuracy = parts.filter((p) => truth(p) === predicted(p)).length / parts.length;
    expect(done.metrics!.samples).toBe(parts.length);
    expect(done.metrics!.classification!.accuracy).toBeCloseTo(trainerAccuracy, 10);
  }, 120_000);

  it("ships the references in the bundle, and a device infers every product from the bundle alone", async () => {
    const d = await t.call<Deployment>("POST", "/api/v1/deployments", {
      body: { modelVersionId: version.id, target: { deviceIds: ["cam-ref"] } },
    });
    expect(d.status, JSON.stringify(d.json)).toBeLessThan(300);
    // what the agent fetches, with the device's own credentials
    const get = async (path: string) => {
      const res = await fetch(`${t.httpUrl}${path}`, { headers: { authorization: basic("cam-ref", secret) } });
      expect(res.status, path).toBe(200);
      return new Uint8Array(await res.arrayBuffer());
    };
    const bundle = JSON.parse(
      Buffer.from(await get(`/api/v1/bundles/${d.json.bundleSha256}`)).toString(),
    ) as BundleManifest;
    const refs = bundle.manifest.reference!;
    expect(refs.images.map((i) => i.key)).toEqual(["p0", "p1", "p2"]);
    for (const img of refs.images) {
      expect(createHash("sha256").update(Buffer.from(img.png, "base64")).digest("hex")).toBe(img.sha256);
    }
    const onnx = await get(`/api/v1/blobs/${bundle.model.sha256}`);
    expect(createHash("sha256").update(onnx).digest("hex")).toBe(bundle.model.sha256);
    const inf = await Inferencer.create(onnx, parseManifest(bundle.manifest), { intraOpThreads: 1 });
    try {
      for (const e of expected.filter((x) => x.key !== "p0")) {
        const out = (await inf.infer(await readFile(e.file), e.key)).result as ClassificationResult;
        expect(out.scores.defect).toBeCloseTo(e.probs[1]!, 4);
      }
      await expect(inf.infer(await readFile(expected[0]!.file), "p7")).rejects.toMatchObject({
        code: "KENSA_ERR_REFERENCE_MISSING",
      });
    } finally {
      await inf.close();
    }
  });
});
