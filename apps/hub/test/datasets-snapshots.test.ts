import {
  type CreatedSnapshot,
  canonicalJson,
  type Sample,
  type SnapshotDiff,
  type SnapshotManifest,
  sha256Hex,
} from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { effectiveGroupKey, splitOf } from "../src/datasets/split.js";
import { allSamples, createProject, exportArchive, image, importArchive, pack } from "./datasets-fixtures.js";
import { backends, startHub, type TestHub } from "./helpers.js";

const list = await backends("datasets_snapshots");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe("the split rule", () => {
  it("hashes the group key with the seed into [0, 1) and cuts by the ratios", () => {
    const params = { seed: "kensa", ratios: { train: 0.7, val: 0.15, test: 0.15 } };
    const counts = { train: 0, val: 0, test: 0 };
    for (let i = 0; i < 20_000; i++) counts[splitOf(`group-${i}`, params)]++;
    expect(counts.train / 20_000).toBeCloseTo(0.7, 1);
    expect(counts.val / 20_000).toBeCloseTo(0.15, 1);
    expect(counts.test / 20_000).toBeCloseTo(0.15, 1);
    expect(splitOf("g", params)).toBe(splitOf("g", params));
    expect(splitOf("g", { ...params, ratios: { train: 0, val: 0, test: 1 } })).toBe("test");
    // another seed reshuffles
    const moved = Array.from({ length: 200 }, (_, i) => `k${i}`).filter(
      (k) => splitOf(k, params) !== splitOf(k, { ...params, seed: "other" }),
    );
    expect(moved.length).toBeGreaterThan(20);
  });

  it("groups a device's frames by time bucket, unless a key was given", () => {
    const base = { group_key: null, device_id: "cam-1", image_sha256: "a".repeat(64) };
    const k1 = effectiveGroupKey({ ...base, captured_at: "2025-01-01T10:05:00.000Z" }, 3600);
    const k2 = effectiveGroupKey({ ...base, captured_at: "2025-01-01T10:55:00.000Z" }, 3600);
    const k3 = effectiveGroupKey({ ...base, captured_at: "2025-01-01T11:00:00.000Z" }, 3600);
    expect(k1).toBe(k2);
    expect(k3).not.toBe(k1);
    expect(effectiveGroupKey({ ...base, captured_at: null, device_id: null }, 3600)).toBe(`image:${"a".repeat(64)}`);
    expect(effectiveGroupKey({ ...base, group_key: "lot-7", captured_at: "2025-01-01T10:05:00.000Z" }, 3600)).toBe(
      "lot-7",
    );
  });
});

describe.each(list)("snapshots ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let archive: Buffer;

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    projectId = await createProject(t.call, "snap", "classification", ["ok", "scratch"], ["ok"]);
    const files = [];
    // 12 lots of 3 near-duplicate captures each; the lot is the group
    for (let lot = 0; lot < 12; lot++) {
      for (let k = 0; k < 3; k++) {
        const cls = lot % 3 === 0 ? "scratch" : "ok";
        files.push({ path: `${cls}/lot${lot}_shot${k}.jpg`, data: await image(300 + lot * 3 + k) });
      }
    }
    archive = pack(files, "tar");
    const r = await importArchive(t.call, projectId, archive, { format: "imagefolder", groupKey: "regex:(lot\\d+)_" });
    expect(r.json.result?.ok).toBe(36);
  });
  afterAll(async () => {
    await t?.close();
  });

  const snapshot = (body: Record<string, unknown> = {}) =>
    t.call<CreatedSnapshot>("POST", `/api/v1/projects/${projectId}/snapshots`, { body });
  const manifestOf = async (id: string) => {
    const res = await fetch(`${t.httpUrl}/api/v1/snapshots/${id}/manifest`, {
      headers: { authorization: `Bearer ${t.hub.adminToken}` },
    });
    return Buffer.from(await res.arrayBuffer());
  };

  it("is content-addressed, reproducible, and keeps each group in one split", async () => {
    const a = await snapshot({ name: "first", by: "ana" });
    expect(a.status).toBe(201);
    expect(a.json).toMatchObject({ created: true, name: "first", by: "ana", sampleCount: 36 });
    expect(a.json.params).toEqual({
      seed: "kensa",
      ratios: { train: 0.7, val: 0.15, test: 0.15 },
      groupBucketSec: 3600,
      include: "labeled",
    });
    const again = await snapshot({ name: "again" });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ id: a.json.id, created: false, name: "first" });

    const bytes = await manifestOf(a.json.id);
    expect(sha256Hex(bytes)).toBe(a.json.id);
    const m = JSON.parse(bytes.toString("utf8")) as SnapshotManifest;
    expect(canonicalJson(m)).toBe(bytes.toString("utf8"));
    expect(m.items.map((i) => i.sampleId)).toEqual([...m.items.map((i) => i.sampleId)].sort());
    for (const it of m.items) expect(it.label.sha256).toBe(sha256Hex(canonicalJson(it.label.content)));
    const splitsOfGroup = new Map<string, Set<string>>();
    for (const it of m.items)
      splitsOfGroup.set(it.groupKey, (splitsOfGroup.get(it.groupKey) ?? new Set()).add(it.split));
    expect(splitsOfGroup.size).toBe(12);
    for (const s of splitsOfGroup.values()) expect(s.size).toBe(1);

    // stats add up per split and class
    const { stats } = a.json;
    expect(stats.total).toMatchObject({ samples: 36, groups: 12, images: { ok: 24, scratch: 12 } });
    expect(stats.splits.train.samples + stats.splits.val.samples + stats.splits.test.samples).toBe(36);
    expect(stats.splits.train.groups + stats.splits.val.groups + stats.splits.test.groups).toBe(12);

    // the same archive in another project lands in the same splits: splits depend on groups only
    const other = await createProject(t.call, "snap-2", "classification", ["ok", "scratch"], ["ok"]);
    await importArchive(t.call, other, archive, { format: "imagefolder", groupKey: "regex:(lot\\d+)_" });
    const b = await t.call<CreatedSnapshot>("POST", `/api/v1/projects/${other}/snapshots`, { body: {} });
    const mb = JSON.parse((await manifestOf(b.json.id)).toString("utf8")) as SnapshotManifest;
    const splitByImage = (mm: SnapshotManifest) => new Map(mm.items.map((i) => [i.image.sha256, i.split]));
    expect(splitByImage(mb)).toEqual(splitByImage(m));

    const seeded = await snapshot({ seed: "other" });
    expect(seeded.json.id).not.toBe(a.json.id);
    const listed = await t.call<{ items: Array<{ id: string }> }>("GET", `/api/v1/projects/${projectId}/snapshots`);
    expect(listed.json.items.map((s) => s.id).sort()).toEqual([a.json.id, seeded.json.id].sort());
  });

  it("does not change when samples are relabeled later; a diff shows what did", async () => {
    const a = await snapshot();
    const before = await manifestOf(a.json.id);
    const samples = await allSamples(t.call, projectId);
    const target = samples.find((s) => s.label?.content.classes[0] === "ok")!;
    const rel = await t.call("POST", `/api/v1/samples/${target.id}/labels`, {
      body: { by: "ben", content: { classes: ["scratch"] } },
    });
    expect(rel.status).toBe(201);
    const added = await t.call<Sample>("POST", `/api/v1/projects/${projectId}/samples?classes=ok&groupKey=lot99`, {
      headers: { "content-type": "image/jpeg" },
      raw: await image(399),
    });
    expect(added.status).toBe(201);
    await t.call("POST", `/api/v1/projects/${projectId}/samples`, {
      headers: { "content-type": "image/jpeg" },
      raw: await image(398),
    });

    expect((await manifestOf(a.json.id)).equals(before)).toBe(true);
    expect((await t.call<CreatedSnapshot>("GET", `/api/v1/snapshots/${a.json.id}`)).json.sampleCount).toBe(36);
    const b = await snapshot();
    expect(b.json.id).not.toBe(a.json.id);
    expect(b.json).toMatchObject({ sampleCount: 37, excluded: { noImage: 0, notLabeled: 1 } });
    const diff = await t.call<SnapshotDiff>("GET", `/api/v1/snapshots/${a.json.id}/diff/${b.json.id}`);
    expect(diff.json).toMatchObject({
      from: a.json.id,
      to: b.json.id,
      added: [added.json.id],
      removed: [],
      moved: [],
      unchanged: 35,
    });
    expect(diff.json.relabeled).toEqual([{ sampleId: target.id, from: target.label?.sha256, to: expect.any(String) }]);
    const back = await t.call<SnapshotDiff>("GET", `/api/v1/snapshots/${b.json.id}/diff/${a.json.id}`);
    expect(back.json.removed).toEqual([added.json.id]);

    // only reviewed samples: none yet
    const empty = await snapshot({ include: "reviewed" });
    expect(empty.status).toBe(422);
    expect(empty.json).toMatchObject({ error: { code: "KENSA_ERR_SNAPSHOT_EMPTY" } });
    expect((await snapshot({ ratios: { train: 0, val: 0, test: 0 } })).status).toBe(400);
    expect((await t.call("GET", `/api/v1/snapshots/${"0".repeat(64)}`)).status).toBe(404);
  });

  it("exports one split of a snapshot, which imports back as exactly that split", async () => {
    const s = await snapshot({ ratios: { train: 0.5, val: 0.25, test: 0.25 } });
    const m = JSON.parse((await manifestOf(s.json.id)).toString("utf8")) as SnapshotManifest;
    const train = m.items.filter((i) => i.split === "train");
    const zip = await exportArchive(t, projectId, { format: "yolo", snapshot: s.json.id, split: "train" });
    const p = await createProject(t.call, "train-only", "classification", ["ok", "scratch"], ["ok"]);
    const r = await importArchive(t.call, p, zip, { format: "yolo" });
    expect(r.json.result?.ok).toBe(train.length);
    const images = new Set((await allSamples(t.call, p)).map((x) => x.image?.sha256));
    expect(images).toEqual(new Set(train.map((i) => i.image.sha256)));
    const noSplit = await t.call("GET", `/api/v1/projects/${projectId}/export?format=yolo&split=train`);
    expect(noSplit.status).toBe(400);
  });
});
