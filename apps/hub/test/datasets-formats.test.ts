import type { Sample } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allSamples,
  createProject,
  exportArchive,
  type FixtureFile,
  image,
  importArchive,
  labelsByImage,
  maskPng,
  pack,
} from "./datasets-fixtures.js";
import { backends, startHub, type TestHub } from "./helpers.js";

const list = await backends("datasets_formats");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const W = 48;
const H = 40;
const LABELS = ["ok", "scratch", "dent"];

interface Case {
  format: "imagefolder" | "coco" | "yolo" | "voc" | "masks";
  task: string;
  archive: "zip" | "tar";
  files: () => Promise<FixtureFile[]>;
  /** what the first import must have understood, by item path */
  expect: (byItem: Map<string, Sample>) => void;
}

const txt = (s: string) => Buffer.from(s);
const byItem = (samples: Sample[]) => new Map(samples.map((s) => [s.provenance.item ?? s.id, s]));
/** objects by label, then x: the stored order is canonical, not the file's */
const objects = (s: Sample | undefined) =>
  [...(s?.label?.content.objects ?? [])].sort(
    (a, b) => a.label.localeCompare(b.label) || (a.box?.x ?? 0) - (b.box?.x ?? 0),
  );

const cases: Case[] = [
  {
    format: "imagefolder",
    task: "classification",
    archive: "tar",
    files: async () => [
      { path: "ok/a.jpg", data: await image(1) },
      { path: "ok/b.png", data: await image(2, "png") },
      { path: "scratch/c.jpg", data: await image(3) },
      { path: "scratch/c_mask.png", data: await maskPng(W, H, { x: 4, y: 5, w: 10, h: 6 }) },
      { path: "dent/sub/d.jpg", data: await image(4) },
      { path: "README.md", data: txt("not an image") },
    ],
    expect: (m) => {
      expect(m.get("ok/a.jpg")?.label?.content.classes).toEqual(["ok"]);
      expect(m.get("dent/sub/d.jpg")?.label?.content.classes).toEqual(["dent"]);
      expect(objects(m.get("scratch/c.jpg"))).toHaveLength(1);
      expect(objects(m.get("scratch/c.jpg"))[0]).toMatchObject({ label: "scratch", mask: expect.any(String) });
    },
  },
  {
    format: "coco",
    task: "segmentation",
    archive: "zip",
    files: async () => [
      { path: "images/a.jpg", data: await image(11) },
      { path: "images/b.png", data: await image(12, "png") },
      { path: "images/c.jpg", data: await image(13) },
      { path: "images/d.jpg", data: await image(14) },
      {
        path: "annotations/instances.json",
        data: txt(
          JSON.stringify({
            images: [
              { id: 1, file_name: "a.jpg", width: W, height: H },
              { id: 2, file_name: "b.png", width: W, height: H },
              { id: 3, file_name: "c.jpg", width: W, height: H },
              { id: 4, file_name: "d.jpg", width: W, height: H },
            ],
            categories: [
              { id: 7, name: "scratch" },
              { id: 9, name: "dent" },
            ],
            annotations: [
              { id: 1, image_id: 1, category_id: 7, bbox: [2, 3, 10, 12], segmentation: [] },
              { id: 2, image_id: 1, category_id: 9, bbox: [20.5, 10.25, 8, 8] },
              {
                id: 3,
                image_id: 2,
                category_id: 7,
                bbox: [5, 5, 20, 10],
                segmentation: [[5, 5, 25, 5, 25, 15, 5, 15]],
              },
              // uncompressed RLE, column-major: 3 columns × rows 10..19 inside
              {
                id: 4,
                image_id: 3,
                category_id: 9,
                bbox: [30, 10, 3, 10],
                iscrowd: 1,
                segmentation: { size: [H, W], counts: [30 * H + 10, 10, 30, 10, 30, 10, W * H - (30 * H + 10) - 90] },
              },
            ],
          }),
        ),
      },
    ],
    expect: (m) => {
      expect(objects(m.get("images/a.jpg"))).toEqual([
        { label: "dent", box: { x: 20.5, y: 10.25, w: 8, h: 8 } },
        { label: "scratch", box: { x: 2, y: 3, w: 10, h: 12 } },
      ]);
      expect(m.get("images/a.jpg")?.label?.content.classes).toEqual(["dent", "scratch"]);
      expect(objects(m.get("images/b.png"))[0]).toMatchObject({ label: "scratch", mask: expect.any(String) });
      expect(objects(m.get("images/c.jpg"))[0]).toMatchObject({ label: "dent", mask: expect.any(String) });
      expect(m.get("images/d.jpg")?.label?.content).toEqual({ classes: [], objects: [], anomaly: null });
    },
  },
  {
    format: "yolo",
    task: "detection",
    archive: "tar",
    files: async () => [
      { path: "data.yaml", data: txt("path: .\ntrain: images/train\nnames:\n  0: scratch\n  1: dent\n") },
      { path: "images/train/a.jpg", data: await image(21) },
      { path: "labels/train/a.txt", data: txt("0 0.5 0.5 0.25 0.5\n1 0.125 0.25 0.25 0.1\n") },
      { path: "images/val/b.png", data: await image(22, "png") },
      { path: "labels/val/b.txt", data: txt("1 0.25 0.25 0.5 0.5\n") },
      { path: "images/val/c.jpg", data: await image(23) },
    ],
    expect: (m) => {
      expect(objects(m.get("images/train/a.jpg"))).toEqual([
        { label: "dent", box: { x: 0, y: 8, w: 12, h: 4 } },
        { label: "scratch", box: { x: 18, y: 10, w: 12, h: 20 } },
      ]);
      expect(objects(m.get("images/val/b.png"))).toEqual([{ label: "dent", box: { x: 0, y: 0, w: 24, h: 20 } }]);
      expect(m.get("images/val/c.jpg")?.label?.content.classes).toEqual([]);
    },
  },
  {
    format: "voc",
    task: "detection",
    archive: "zip",
    files: async () => [
      { path: "IMAGES/scratch_1.jpg", data: await image(31) },
      {
        path: "ANNOTATIONS/scratch_1.xml",
        // NEU-DET style: <filename> without the extension
        data: txt(
          "<annotation><filename>scratch_1</filename><size><width>48</width><height>40</height><depth>1</depth></size>" +
            "<object><name>scratch</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>30</ymax></bndbox></object>" +
            "<object><name>dent</name><difficult>0</difficult><bndbox><xmin>30</xmin><ymin>1</ymin><xmax>47</xmax><ymax>9</ymax></bndbox></object>" +
            "</annotation>",
        ),
      },
      { path: "Validation_Images/dent_2.png", data: await image(32, "png") },
      {
        path: "Validation_Annotations/dent_2.xml",
        data: txt(
          "<annotation><filename>dent_2.png</filename><object><name>dent</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>48</xmax><ymax>40</ymax></bndbox></object></annotation>",
        ),
      },
      { path: "Validation_Images/empty_3.jpg", data: await image(33) },
      {
        path: "Validation_Annotations/empty_3.xml",
        data: txt("<annotation><filename>empty_3.jpg</filename></annotation>"),
      },
    ],
    expect: (m) => {
      expect(objects(m.get("IMAGES/scratch_1.jpg"))).toEqual([
        { label: "dent", box: { x: 30, y: 1, w: 17, h: 8 } },
        { label: "scratch", box: { x: 2, y: 3, w: 18, h: 27 } },
      ]);
      expect(objects(m.get("Validation_Images/dent_2.png"))).toEqual([
        { label: "dent", box: { x: 0, y: 0, w: 48, h: 40 } },
      ]);
      expect(m.get("Validation_Images/empty_3.jpg")?.status).toBe("labeled");
    },
  },
  {
    format: "masks",
    task: "segmentation",
    archive: "tar",
    files: async () => [
      { path: "images/a.jpg", data: await image(41) },
      { path: "masks/a.png", data: await maskPng(W, H, { x: 1, y: 1, w: 5, h: 5 }) },
      { path: "images/b.png", data: await image(42, "png") },
      { path: "masks/dent/b.png", data: await maskPng(W, H, { x: 10, y: 10, w: 20, h: 4 }) },
      { path: "masks/scratch/b.png", data: await maskPng(W, H, { x: 0, y: 30, w: 48, h: 2 }) },
      { path: "images/c.jpg", data: await image(43) },
      { path: "masks/c.png", data: await maskPng(W, H, { x: 0, y: 0, w: 0, h: 0 }) },
    ],
    expect: (m) => {
      // masks directly under masks/ take the first non-OK label
      expect(objects(m.get("images/a.jpg")).map((o) => o.label)).toEqual(["scratch"]);
      expect(m.get("images/b.png")?.label?.content.classes).toEqual(["dent", "scratch"]);
      // an all-black mask adds nothing: background
      expect(m.get("images/c.jpg")?.label?.content).toEqual({ classes: [], objects: [], anomaly: null });
    },
  },
];

describe.each(list)("dataset formats ($name)", (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(cases)("$format: imports, and export → import round-trips exactly", async (c) => {
    const a = await createProject(t.call, `${c.format}-a`, c.task, LABELS, ["ok"]);
    const files = await c.files();
    const first = await importArchive(t.call, a, pack(files, c.archive), { format: c.format });
    expect(first.status, JSON.stringify(first.json)).toBe(200);
    expect(first.json.status).toBe("succeeded");
    expect(first.json.result?.failed).toEqual([]);
    const images = files.filter((f) => /\.(jpg|png)$/.test(f.path) && !f.path.includes("mask")).length;
    expect(first.json.result?.ok).toBe(images);
    c.expect(byItem(await allSamples(t.call, a)));
    const original = await labelsByImage(t.call, a);

    // the other archive type on the way back, so both readers and writers are exercised
    const other = c.archive === "zip" ? "tar" : "zip";
    const exported = await exportArchive(t, a, { format: c.format, archive: other });
    expect(exported.equals(await exportArchive(t, a, { format: c.format, archive: other }))).toBe(true);
    const b = await createProject(t.call, `${c.format}-b`, c.task, LABELS, ["ok"]);
    const second = await importArchive(t.call, b, exported, { format: c.format });
    expect(second.json.result?.failed).toEqual([]);
    expect(second.json.result?.ok).toBe(images);
    expect(await labelsByImage(t.call, b)).toEqual(original);
  });

  it("imagefolder with classFrom regex: the class comes from the file name; a bad rule is refused", async () => {
    const p = await createProject(t.call, "by-name", "classification", LABELS, ["ok"]);
    const files = [
      { path: "IMAGES/scratch_1.jpg", data: await image(31) },
      { path: "IMAGES/dent_12.png", data: await image(32, "png") },
      { path: "hold-out/ok_3.jpg", data: await image(33) },
      { path: "IMAGES/unnamed.jpg", data: await image(34) },
      { path: "IMAGES/scratch_1.xml", data: txt("<annotation/>") },
    ];
    const rule = "regex:([^/]+)_\\d+\\.(jpg|png)$";
    const r = await importArchive(t.call, p, pack(files, "tar"), { format: "imagefolder", classFrom: rule });
    expect(r.json.result).toMatchObject({ ok: 3, ignored: 1 });
    expect(r.json.result?.failed).toEqual([
      {
        item: "IMAGES/unnamed.jpg",
        code: "KENSA_ERR_DATASET_ANNOTATION_INVALID",
        message: expect.stringContaining("does not match classFrom"),
      },
    ]);
    const m = byItem(await allSamples(t.call, p));
    expect(m.get("IMAGES/scratch_1.jpg")?.label?.content.classes).toEqual(["scratch"]);
    expect(m.get("IMAGES/dent_12.png")?.label?.content.classes).toEqual(["dent"]);
    expect(m.get("hold-out/ok_3.jpg")?.label?.content.classes).toEqual(["ok"]);

    const bad = await importArchive(t.call, p, pack(files, "tar"), { format: "imagefolder", classFrom: "regex:(" });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.code).toBe("KENSA_ERR_VALIDATION");
    expect(bad.json.error?.message).toContain("classFrom");
  });

  it("yolo: a polygon line (Ultralytics segmentation) becomes a mask", async () => {
    const p = await createProject(t.call, "yolo-seg", "segmentation", LABELS, ["ok"]);
    const files = [
      { path: "classes.txt", data: txt("scratch\ndent\n") },
      { path: "a.png", data: await image(24, "png") },
      { path: "a.txt", data: txt("1 0.25 0.25 0.75 0.25 0.75 0.75 0.25 0.75\n") },
    ];
    const r = await importArchive(t.call, p, pack(files, "zip"), { format: "yolo" });
    expect(r.json.result).toMatchObject({ ok: 1, failed: [] });
    const [s] = await allSamples(t.call, p);
    expect(s?.label?.content.objects).toEqual([{ label: "dent", mask: expect.stringMatching(/^[a-f0-9]{64}$/) }]);
    const mask = await t.call("GET", `/api/v1/blobs/${s?.label?.content.objects[0]?.mask}`);
    expect(mask.status).toBe(200);
  });
});
