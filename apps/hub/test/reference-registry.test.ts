import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  Evaluation,
  ModelVersion,
  ProjectReference,
  SnapshotManifest,
  TrainingRun,
  TrainingSettings,
} from "@kensa/contracts";
import { needService, type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importsTorch, resolvePython } from "../src/training/python.js";
import { JPEG_TINY, seed, startHub, type TestHub } from "./helpers.js";
import { waitForGate, waitForRun } from "./training-fixtures.js";

const python = await resolvePython(undefined, process.env);
const skip = needService(`PyTorch for the built-in trainer (${python} -c "import torch")`, await importsTorch(python));
const TRAINER = join(dirname(fileURLToPath(import.meta.url)), "../../../trainers/torch");

interface Parts {
  references: Record<string, string>;
  parts: Array<{ file: string; key: string; defect: boolean }>;
}

/**
 * A project's golden references through the hub: registered per key (checked on upload), samples
 * naming their key, snapshots freezing key → image, and a run of the built-in trainer that
 * trains a reference-aware model whose manifest carries the references and which the hub evaluates.
 */
describe.skipIf(skip)("golden references of a project", () => {
  let dir: TempDir;
  let t: TestHub;
  let projectId: string;
  let parts: Parts;
  const png = (file: string) => readFile(join(dir.path, file));
  const addRef = async (key: string, body: Uint8Array, type = "image/png", extra = "") =>
    t.call<ProjectReference>("POST", `/api/v1/projects/${projectId}/references?key=${key}${extra}`, {
      raw: body,
      headers: { "content-type": type },
    });

  beforeAll(async () => {
    dir = await tempDir("kensa-reference-registry-");
    const r = spawnSync(
      python,
      ["tests/reference_parts.py", dir.path, "--products", "4", "--per-product", "16", "--size", "48"],
      { cwd: TRAINER, encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`reference_parts.py exited ${r.status}: ${r.stderr}`);
    parts = JSON.parse(await readFile(join(dir.path, "parts.json"), "utf8"));
    t = await startHub({ training: { pollMs: 100 } });
    projectId = (await seed(t.call, "labels", [])).projectId;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await dir?.remove();
  });

  it("registers references per key, one default, and refuses what does not decode", async () => {
    const bad = await addRef("p0", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    expect(bad.status).toBe(422);
    expect(bad.json).toMatchObject({ error: { code: "KENSA_ERR_REFERENCE_INVALID" } });
    const tiny = await addRef("p0", JPEG_TINY.subarray(0), "image/jpeg");
    expect(tiny.status, JSON.stringify(tiny.json)).toBe(201); // 16 px is the least
    for (const [key, file] of Object.entries(parts.references)) {
      const added = await addRef(key, await png(file));
      expect(added.status, JSON.stringify(added.json)).toBe(201);
    }
    const list = (await t.call<{ items: ProjectReference[] }>("GET", `/api/v1/projects/${projectId}/references`)).json;
    expect(list.items.map((r) => [r.key, r.isDefault])).toEqual([
      ["p0", true],
      ["p1", false],
      ["p2", false],
      ["p3", false],
    ]);
    expect(list.items[0]).toMatchObject({ width: 48, height: 48, format: "png" });
    // a new default moves the flag; removing the default hands it to the earliest other
    expect((await addRef("extra", await png(parts.references.p1!), "image/png", "&default=true")).json.isDefault).toBe(
      true,
    );
    expect((await t.call("DELETE", `/api/v1/projects/${projectId}/references/extra`)).status).toBe(204);
    const after = (await t.call<{ items: ProjectReference[] }>("GET", `/api/v1/projects/${projectId}/references`)).json;
    expect(after.items.find((r) => r.isDefault)?.key).toBe("p0");
    const gone = await t.call("DELETE", `/api/v1/projects/${projectId}/references/extra`);
    expect(gone.status).toBe(404);
    expect(gone.json).toMatchObject({ error: { code: "KENSA_ERR_REFERENCE_NOT_FOUND" } });
  });

  it("takes samples naming their key, refuses an unknown key, freezes the references in snapshots", async () => {
    const unknown = await t.call("POST", `/api/v1/projects/${projectId}/samples?classes=ok&referenceKey=nope`, {
      raw: await png(parts.parts[0]!.file),
      headers: { "content-type": "image/png" },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: { code: "KENSA_ERR_REFERENCE_NOT_FOUND" } });
    for (const p of parts.parts) {
      // the default's parts name no key: they use the default reference
      const key = p.key === "p0" ? "" : `&referenceKey=${p.key}`;
      const up = await t.call(
        "POST",
        `/api/v1/projects/${projectId}/samples?classes=${p.defect ? "defect" : "ok"}${key}`,
        {
          raw: await png(p.file),
          headers: { "content-type": "image/png" },
        },
      );
      expect(up.status, JSON.stringify(up.json)).toBe(201);
    }
    const snap = await t.call<{ id: string }>("POST", `/api/v1/projects/${projectId}/snapshots`, { body: {} });
    expect(snap.status, JSON.stringify(snap.json)).toBe(201);
    const m = (await t.call<SnapshotManifest>("GET", `/api/v1/snapshots/${snap.json.id}/manifest`)).json;
    const refs = (await t.call<{ items: ProjectReference[] }>("GET", `/api/v1/projects/${projectId}/references`)).json;
    expect(m.references).toEqual({
      defaultKey: "p0",
      images: refs.items.map((r) => ({ key: r.key, sha256: r.sha256 })).sort((a, b) => (a.key < b.key ? -1 : 1)),
    });
    expect(new Set(m.items.map((i) => i.referenceKey ?? "default"))).toEqual(new Set(["default", "p1", "p2", "p3"]));
  });

  it("trains a reference model through the hub: its manifest carries the references, the hub evaluates it", async () => {
    const s = await t.call<TrainingSettings>("PUT", `/api/v1/projects/${projectId}/training-settings`, {
      body: {
        gate: { latencyBudgetMs: 5000 },
        defaults: {
          input: { width: 48, height: 48, channels: 1 },
          hyper: { epochs: 2, batchSize: 16, patience: 0 },
          threads: 1,
        },
      },
    });
    expect(s.status, JSON.stringify(s.json)).toBe(200);
    const run = await t.call<TrainingRun>("POST", `/api/v1/projects/${projectId}/runs`, { body: { by: "qa" } });
    expect(run.status, JSON.stringify(run.json)).toBe(201);
    const done = await waitForRun(t.call, run.json.id, 180_000);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    const v = (await t.call<ModelVersion>("GET", `/api/v1/models/${done.modelVersionId}`)).json;
    const refs = (await t.call<{ items: ProjectReference[] }>("GET", `/api/v1/projects/${projectId}/references`)).json;
    expect(v.manifest.reference).toMatchObject({ stack: "frame-reference-difference", defaultKey: "p0" });
    expect(v.manifest.reference!.images.map((i) => i.key).sort()).toEqual(["p0", "p1", "p2", "p3"]);
    // at 48×48 the registered PNGs are already at input size: the manifest keeps their pixels
    expect(refs.items).toHaveLength(4);
    // the gate decides on the hub's evaluation, which ran the model with each test sample's reference
    const gate = await waitForGate(t.call, v.id);
    expect(gate.results.find((r) => r.name === "first_model")?.challenger, JSON.stringify(gate)).toEqual(
      expect.any(Number),
    );
    const evals = (await t.call<{ items: Evaluation[] }>("GET", `/api/v1/models/${v.id}/evaluations`)).json.items;
    expect(evals[0], JSON.stringify(evals)).toMatchObject({ status: "succeeded" });
    const accuracy = evals[0]!.metrics!.values.accuracy!;
    expect(accuracy).toBeGreaterThanOrEqual(0);
    expect(accuracy).toBeLessThanOrEqual(1);
  }, 240_000);
});
