import { existsSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type DatasetImport, type Project, sha256Hex } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allSamples, createProject, image, importArchive, pack, rawTar } from "./datasets-fixtures.js";
import { backends, startHub, type TestHub } from "./helpers.js";

const list = await backends("datasets_hostile");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("hostile and broken dataset archives ($name)", (backend) => {
  let t: TestHub;
  let good: Buffer;
  let other: Buffer;
  let hostile: Buffer;
  const dbKey = `hostile-${backend.name}`;

  beforeAll(async () => {
    t = await startHub({ database: backend.database(dbKey) });
    good = await image(101);
    other = await image(102);
    const truncated = good.subarray(0, Math.floor(good.length / 2));
    const corrupt = Buffer.from(good);
    corrupt.fill(0x55, 200, corrupt.length - 2); // JPEG markers intact, body garbage
    hostile = rawTar([
      { name: "ok/a.jpg", data: good },
      { name: "scratch/b.jpg", data: other },
      { name: "../evil.jpg", data: good },
      { name: "ok/../../evil2.jpg", data: good },
      { name: "/etc/evil.jpg", data: good },
      { name: "ok/link.jpg", type: "2", link: "/etc/passwd" },
      { name: "ok/hard.jpg", type: "1", link: "ok/a.jpg" },
      { name: "ok/truncated.jpg", data: truncated },
      { name: "ok/corrupt.jpg", data: corrupt },
      { name: "rust/c.jpg", data: await image(103) },
      { name: "ok/dup.jpg", data: good },
      { name: "ok/.DS_Store", data: Buffer.from("junk") },
    ]);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("refuses bad items one by one, skips duplicates, and writes nothing for them", async () => {
    const p = await createProject(t.call, "hostile", "classification", ["ok", "scratch"], ["ok"]);
    const r = await importArchive(t.call, p, hostile, { format: "imagefolder" });
    expect(r.json.status).toBe("succeeded");
    const result = r.json.result!;
    expect(result.ok).toBe(2);
    const codes = Object.fromEntries(result.failed.map((f) => [f.item, f.code]));
    expect(codes).toEqual({
      "../evil.jpg": "KENSA_ERR_DATASET_UNSAFE_PATH",
      "ok/../../evil2.jpg": "KENSA_ERR_DATASET_UNSAFE_PATH",
      "/etc/evil.jpg": "KENSA_ERR_DATASET_UNSAFE_PATH",
      "ok/link.jpg": "KENSA_ERR_DATASET_LINK",
      "ok/hard.jpg": "KENSA_ERR_DATASET_LINK",
      "ok/truncated.jpg": "KENSA_ERR_DATASET_IMAGE_INVALID",
      "ok/corrupt.jpg": "KENSA_ERR_DATASET_IMAGE_INVALID",
      "rust/c.jpg": "KENSA_ERR_DATASET_UNKNOWN_CLASS",
    });
    for (const f of result.failed) expect(f.message.length).toBeGreaterThan(5);
    expect(result.failed.find((f) => f.item === "rust/c.jpg")?.message).toMatch(/"rust".*classMap|addClasses/);
    expect(result.duplicates).toEqual([{ item: "ok/dup.jpg", sha256: expect.any(String), of: "ok/a.jpg" }]);

    // exactly the two good items exist, each with one label revision; nothing escaped
    const samples = await allSamples(t.call, p);
    expect(samples.map((s) => s.provenance.item).sort()).toEqual(["ok/a.jpg", "scratch/b.jpg"]);
    expect(samples.every((s) => s.label?.rev === 1 && s.provenance.source === "import")).toBe(true);
    expect(existsSync(join(t.dir.path, "..", "evil.jpg"))).toBe(false);
    expect(existsSync(join(t.dir.path, "evil.jpg"))).toBe(false);
    // blobs are written only for items that passed every check
    expect(await t.hub.blobs.has(sha256Hex(good.subarray(0, Math.floor(good.length / 2))))).toBe(false);
    // the refused class did not reach the project, and no temp archive is left behind
    expect((await t.call<Project>("GET", `/api/v1/projects/${p}`)).json.labels).toEqual(["ok", "scratch"]);
    expect(existsSync(join(t.dir.path, "tmp", "imports", `${r.json.id}.archive`))).toBe(false);

    // importing the same archive again: the good images are duplicates of existing samples
    const again = await importArchive(t.call, p, hostile, { format: "imagefolder" });
    expect(again.json.result?.ok).toBe(0);
    expect(again.json.result?.duplicates).toHaveLength(3);
    expect(new Set(again.json.result?.duplicates.map((d) => d.of))).toEqual(new Set(samples.map((s) => s.id)));
  });

  it("a strict import with a bad item writes nothing at all", async () => {
    const p = await createProject(t.call, "strict", "classification", ["ok", "scratch"], ["ok"]);
    const r = await importArchive(t.call, p, hostile, { format: "imagefolder", strict: true });
    expect(r.json.status).toBe("failed");
    expect(r.json.error?.code).toBe("KENSA_ERR_DATASET_IMPORT_ABORTED");
    expect(r.json.result?.failed.length).toBe(8);
    expect(await allSamples(t.call, p)).toEqual([]);
  });

  it("maps or adds unknown classes only when asked", async () => {
    const p = await createProject(t.call, "classes", "classification", ["ok", "scratch"], ["ok"]);
    const archive = pack(
      [
        { path: "rust/c.jpg", data: await image(104) },
        { path: "Dent/d.jpg", data: await image(105) },
      ],
      "zip",
    );
    const mapped = await importArchive(t.call, p, archive, { format: "imagefolder", classMap: "rust=scratch" });
    expect(mapped.json.result?.ok).toBe(1);
    expect(mapped.json.result?.failed.map((f) => [f.item, f.code])).toEqual([
      ["Dent/d.jpg", "KENSA_ERR_DATASET_UNKNOWN_CLASS"],
    ]);
    const added = await importArchive(t.call, p, archive, { format: "imagefolder", addClasses: true });
    expect(added.json.result).toMatchObject({ ok: 1, addedClasses: ["Dent"] });
    expect((await t.call<Project>("GET", `/api/v1/projects/${p}`)).json.labels).toEqual(["ok", "scratch", "Dent"]);
    const bad = await importArchive(t.call, p, archive, { format: "imagefolder", classMap: "nonsense" });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { code: "KENSA_ERR_VALIDATION" } });
  });

  it("zip-slip in a zip, gzip-compressed tars, and broken annotations", async () => {
    const p = await createProject(t.call, "zips", "detection", ["ok", "scratch"], ["ok"]);
    const zip = pack(
      [
        { path: "images/a.jpg", data: await image(106) },
        { path: "..\\evil.jpg", data: good },
        { path: "images/../../x.jpg", data: good },
        { path: "C:/windows/evil.jpg", data: good },
        { path: "images/b.jpg", data: await image(107) },
        { path: "images/c.jpg", data: await image(108) },
        {
          path: "coco.json",
          data: Buffer.from(
            JSON.stringify({
              images: [
                { id: 1, file_name: "a.jpg" },
                { id: 2, file_name: "missing.jpg" },
                { id: 3, file_name: "b.jpg" },
                { id: 4, file_name: "c.jpg" },
              ],
              categories: [{ id: 1, name: "scratch" }],
              annotations: [
                { image_id: 1, category_id: 1, bbox: [1, 1, 5, 5] },
                { image_id: 3, category_id: 1, bbox: [40, 30, 30, 30] },
                { image_id: 4, category_id: 99, bbox: [1, 1, 2, 2] },
              ],
            }),
          ),
        },
        { path: "broken.json", data: Buffer.from("{ not json") },
      ],
      "zip",
    );
    const r = await importArchive(t.call, p, zip, { format: "coco" });
    expect(r.json.result?.ok).toBe(1);
    expect(Object.fromEntries(r.json.result!.failed.map((f) => [f.item, f.code]))).toEqual({
      "..\\evil.jpg": "KENSA_ERR_DATASET_UNSAFE_PATH",
      "images/../../x.jpg": "KENSA_ERR_DATASET_UNSAFE_PATH",
      "C:/windows/evil.jpg": "KENSA_ERR_DATASET_UNSAFE_PATH",
      "missing.jpg": "KENSA_ERR_DATASET_IMAGE_MISSING",
      "images/b.jpg": "KENSA_ERR_DATASET_ANNOTATION_INVALID",
      "images/c.jpg": "KENSA_ERR_DATASET_ANNOTATION_INVALID",
      "broken.json": "KENSA_ERR_DATASET_ANNOTATION_INVALID",
    });

    const q = await createProject(t.call, "gz", "classification", ["ok", "scratch"], ["ok"]);
    const gz = gzipSync(pack([{ path: "ok/a.jpg", data: await image(109) }], "tar"));
    expect((await importArchive(t.call, q, gz, { format: "imagefolder" })).json.result?.ok).toBe(1);
  });

  it("refuses what is not an archive, or is cut off, as a whole", async () => {
    const p = await createProject(t.call, "junk", "classification", ["ok"], []);
    const junk = await importArchive(t.call, p, Buffer.from("this is not an archive at all".repeat(40)), {
      format: "imagefolder",
    });
    expect(junk.json.status).toBe("failed");
    expect(junk.json.error?.code).toBe("KENSA_ERR_ARCHIVE_INVALID");
    const zip = pack([{ path: "ok/a.jpg", data: await image(110) }], "zip");
    const cut = await importArchive(t.call, p, zip.subarray(0, zip.length - 30), { format: "imagefolder" });
    expect(cut.json.error?.code).toBe("KENSA_ERR_ARCHIVE_INVALID");
    // a tar cut inside an image: the earlier entries import, the cut one fails alone
    const tar = pack(
      [
        { path: "ok/b.jpg", data: await image(111) },
        { path: "ok/c.jpg", data: await image(112) },
      ],
      "tar",
    );
    const partial = await importArchive(t.call, p, tar.subarray(0, tar.length - 1024 - 300), { format: "imagefolder" });
    expect(partial.json.result?.ok).toBe(1);
    expect(partial.json.result?.failed.map((f) => [f.item, f.code])).toEqual([
      ["ok/c.jpg", "KENSA_ERR_ARCHIVE_INVALID"],
    ]);
    expect((await importArchive(t.call, p, Buffer.alloc(0), { format: "imagefolder" })).json).toMatchObject({
      error: { code: "KENSA_ERR_ARCHIVE_INVALID" },
    });
    expect((await importArchive(t.call, p, zip, { format: "pdf" })).status).toBe(400);
    expect((await importArchive(t.call, "prj_nope", zip, { format: "imagefolder" })).status).toBe(404);
    expect((await importArchive(t.call, p, zip, { format: "imagefolder", groupKey: "cluster:(" })).status).toBe(400);
  });

  it("an import the hub did not finish is reported interrupted after a restart", async () => {
    const p = await createProject(t.call, "restart", "classification", ["ok"], []);
    await t.hub.store.db
      .insertInto("dataset_imports")
      .values({
        id: "imp_crashed",
        project_id: p,
        format: "imagefolder",
        options: "{}",
        status: "running",
        total: 10,
        result: null,
        error: null,
        archive_bytes: 1,
        created_by: "test",
        created_at: new Date().toISOString(),
        finished_at: null,
      })
      .execute();
    await t.hub.close();
    t = await startHub({ database: backend.database(dbKey) }, { dir: t.dir });
    const r = await t.call<DatasetImport>("GET", "/api/v1/imports/imp_crashed");
    expect(r.json.status).toBe("failed");
    expect(r.json.error?.code).toBe("KENSA_ERR_DATASET_IMPORT_INTERRUPTED");
  });
});
