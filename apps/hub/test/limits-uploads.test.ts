import { existsSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARCHIVE_LIMITS } from "../src/datasets/archive/archive-entry.js";
import { openArchive } from "../src/datasets/archive/open-archive.js";
import { createProject, importArchive } from "./datasets-fixtures.js";
import { seed, startHub, type TestHub } from "./helpers.js";
import { rawTar, rawZip } from "./raw-archives.js";

const MiB = 1024 * 1024;

describe("request bodies, models and archives over their limits", () => {
  let t: TestHub;
  let projectId: string;

  beforeAll(async () => {
    t = await startHub({ limits: { jsonBodyBytes: 8 * 1024, modelBytes: 64 * 1024, archiveEntries: 5 } });
    projectId = await createProject(t.call, "limits-up", "classification", ["ok", "scratch"], ["ok"]);
  });
  afterAll(async () => {
    await t?.close();
  });

  const refusals = async (limit: string) => {
    const text = await (
      await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.hub.adminToken}` } })
    ).text();
    return Number(new RegExp(`kensa_limit_refusals_total\\{limit="${limit}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  };

  it("refuses a JSON body over limits.jsonBodyBytes with KENSA_ERR_UPLOAD_TOO_LARGE, and takes one under it", async () => {
    const before = await refusals("http_body");
    const big = await t.call<{ error?: { code: string } }>("POST", "/api/v1/projects", {
      body: { slug: "big-body", name: "x".repeat(20_000), task: "classification", labels: ["ok"], okLabels: ["ok"] },
    });
    expect(big.status).toBe(413);
    expect(big.json.error?.code).toBe("KENSA_ERR_UPLOAD_TOO_LARGE");
    expect(await refusals("http_body")).toBe(before + 1);
    const projects = await t.call<{ items: Array<{ slug: string }> }>("GET", "/api/v1/projects");
    expect(projects.json.items.map((p) => p.slug)).not.toContain("big-body");
    const small = await t.call("POST", "/api/v1/projects", {
      body: { slug: "small-body", name: "small", task: "classification", labels: ["ok"], okLabels: ["ok"] },
    });
    expect(small.status).toBe(201);
  });

  it("refuses an ONNX upload over limits.modelBytes and stores no blob", async () => {
    const { projectId: pid } = await seed(t.call, "limits-model", []);
    const form = new FormData();
    form.set("projectId", pid);
    form.set("model", new Blob([new Uint8Array(256 * 1024)], { type: "application/octet-stream" }), "big.onnx");
    form.set("manifest", "{}");
    const r = await t.call<{ error?: { code: string } }>("POST", "/api/v1/models", { raw: form });
    expect(r.status).toBe(413);
    expect(r.json.error?.code).toBe("KENSA_ERR_UPLOAD_TOO_LARGE");
    const blobs = join(t.dir.path, "blobs", "sha256");
    expect(existsSync(blobs) ? await readdir(blobs, { recursive: true }) : []).toEqual([]);
  });

  it("refuses a zip bomb (64 MiB of zeros in 64 KiB) from its central directory with KENSA_ERR_ARCHIVE_BOMB", async () => {
    const bomb = rawZip([{ path: "ok/notes.txt", data: Buffer.alloc(64 * MiB) }]);
    expect(bomb.length).toBeLessThan(MiB);
    const before = await refusals("archive_entry_ratio");
    const r = await importArchive(t.call, projectId, bomb, { format: "imagefolder" });
    expect(r.json.status).toBe("failed");
    expect(r.json.error?.code).toBe("KENSA_ERR_ARCHIVE_BOMB");
    expect(r.json.error?.message).toMatch(/ok\/notes\.txt.*inflates \d+:1/);
    expect(await refusals("archive_entry_ratio")).toBe(before + 1);
  });

  it("refuses a .tar.gz bomb while inflating it, leaving no inflated file behind", async () => {
    const tarGz = gzipSync(rawTar([{ name: "ok/zeros.bin", data: Buffer.alloc(64 * MiB) }]));
    const r = await importArchive(t.call, projectId, tarGz, { format: "imagefolder" });
    expect(r.json.status).toBe("failed");
    expect(r.json.error?.code).toBe("KENSA_ERR_ARCHIVE_BOMB");
    const spool = join(t.dir.path, "tmp", "imports");
    expect(existsSync(spool) ? (await readdir(spool)).filter((f) => f.endsWith(".tar")) : []).toEqual([]);
  });

  it("refuses an archive over limits.archiveEntries (from the hub config) before reading any entry", async () => {
    const files = Array.from({ length: 6 }, (_, i) => ({ path: `ok/${i}.txt`, data: Buffer.from(`${i}`) }));
    const r = await importArchive(t.call, projectId, rawZip(files), { format: "imagefolder" });
    expect(r.json.status).toBe("failed");
    expect(r.json.error?.code).toBe("KENSA_ERR_UPLOAD_TOO_LARGE");
    expect(r.json.error?.message).toMatch(/6 entries; at most 5/);
  });

  it("refuses a COCO RLE mask declaring 40000 × 40000 for a small image without allocating it", async () => {
    const seg = await createProject(t.call, "limits-rle", "segmentation", ["bg", "scratch"], ["bg"]);
    const img = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#808080" } })
      .jpeg()
      .toBuffer();
    const doc = {
      images: [{ id: 1, file_name: "a.jpg", width: 64, height: 48 }],
      categories: [{ id: 1, name: "scratch" }],
      annotations: [
        {
          id: 1,
          image_id: 1,
          category_id: 1,
          iscrowd: 1,
          bbox: [0, 0, 10, 10],
          area: 100,
          segmentation: { size: [40000, 40000], counts: [0, 1_600_000_000] },
        },
      ],
    };
    const rssBefore = process.memoryUsage().rss;
    const r = await importArchive(
      t.call,
      seg,
      rawZip([
        { path: "images/a.jpg", data: img },
        { path: "annotations.json", data: Buffer.from(JSON.stringify(doc)) },
      ]),
      { format: "coco" },
    );
    expect(r.json.result?.failed).toEqual([
      expect.objectContaining({
        code: "KENSA_ERR_DATASET_ANNOTATION_INVALID",
        message: expect.stringMatching(/40000×40000/),
      }),
    ]);
    // 1.6 GB would have been allocated for the mask
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * MiB);
  });

  it("keeps upload routes on their own, larger limits while JSON bodies are held to 8 KiB", async () => {
    const photo = await sharp({
      create: {
        width: 256,
        height: 256,
        channels: 3,
        background: "#808080",
        noise: { type: "gaussian", mean: 128, sigma: 40 },
      },
    })
      .png()
      .toBuffer();
    expect(photo.length).toBeGreaterThan(8 * 1024);
    const r = await t.call("POST", `/api/v1/projects/${projectId}/samples`, {
      headers: { "content-type": "image/png" },
      raw: photo,
    });
    expect(r.status).toBe(201);
  });

  it("accepts real, barely compressible data and highly compressible small files alike", async () => {
    // a 2 MiB entry at 10:1 (JSON annotations compress about so) passes; so does any entry under 1 MiB
    const text = Buffer.from(
      Array.from({ length: 40_000 }, (_, i) => `{"id":${i},"bbox":[${i % 97},${i % 89},${i % 83},${i % 79}]}`).join(
        ",",
      ),
    );
    const small = Buffer.alloc(512 * 1024);
    const file = join(t.dir.path, "ok.zip");
    await writeFile(
      file,
      rawZip([
        { path: "annotations.json", data: text },
        { path: "blank.txt", data: small },
      ]),
    );
    const opened = await openArchive(file, ARCHIVE_LIMITS);
    try {
      expect(opened.entries.map((e) => e.path)).toEqual(["annotations.json", "blank.txt"]);
      expect((await opened.entries[0]?.read())?.length).toBe(text.length);
    } finally {
      await opened.close();
    }
  });
});
