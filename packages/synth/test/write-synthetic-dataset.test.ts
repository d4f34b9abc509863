import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CocoRle, defectClassIndex, defectTypes, defectTypesFor, writeSyntheticDataset } from "../src/index.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "kensa-synth-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const W = 320;
const H = 240;

async function jpegSize(path: string): Promise<[string | undefined, number | undefined, number | undefined]> {
  const m = await sharp(path).metadata();
  return [m.format, m.width, m.height];
}

/** Every file under dir, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

const sum = (o: Record<string, number | undefined>) => Object.values(o).reduce<number>((a, n) => a + (n ?? 0), 0);

describe("writeSyntheticDataset", () => {
  it("writes an ImageFolder tree: one folder per class that has images, ok included", async () => {
    const dir = join(root, "folder");
    const s = await writeSyntheticDataset(dir, {
      seed: 4,
      count: 40,
      surface: "cast",
      format: "imagefolder",
      defectRate: 0.6,
      defects: ["spot", "crack", "hole"],
    });
    expect(s.images).toBe(40);
    const files = await tree(dir);
    expect(files).toHaveLength(40);
    const byClass: Record<string, number> = {};
    for (const f of files) {
      const [cls, name] = f.split("/") as [string, string];
      expect(name).toMatch(/^\d{6}\.jpg$/);
      byClass[cls] = (byClass[cls] ?? 0) + 1;
    }
    expect(byClass).toEqual(s.classes);
    expect(Object.keys(byClass).sort()).toEqual(["crack", "hole", "ok", "spot"]);
    expect(await jpegSize(join(dir, files[0]!))).toEqual(["jpeg", W, H]);
  });

  it("writes images/ and masks/ with the same stems, masks holding class indices", async () => {
    const dir = join(root, "masks");
    const s = await writeSyntheticDataset(dir, {
      seed: 5,
      count: 16,
      start: 100,
      surface: "ceramic-tile",
      format: "masks",
      defectRate: 0.7,
    });
    const files = await tree(dir);
    const images = files.filter((f) => f.startsWith("images/"));
    const masks = files.filter((f) => f.startsWith("masks/"));
    expect(images.map((f) => f.slice(7, -4))).toEqual(masks.map((f) => f.slice(6, -4)));
    expect(images[0]).toBe("images/000100.jpg");
    expect(images).toHaveLength(16);
    expect(s.files).toBe(33);
    const classes = (await readFile(join(dir, "classes.txt"), "utf8")).trimEnd().split("\n");
    expect(classes).toEqual(["background", ...defectTypes]);
    const allowed = new Set([0, ...defectTypesFor("ceramic-tile").map((t) => defectClassIndex[t])]);
    let withDefect = 0;
    for (const m of masks) {
      const { data, info } = await sharp(join(dir, m)).toColourspace("b-w").raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([W, H, 1]);
      const values = new Set(data);
      for (const v of values) expect(allowed.has(v), `value ${v} in ${m}`).toBe(true);
      if (values.size > 1) withDefect++;
    }
    expect(withDefect).toBe(16 - (s.classes.ok ?? 0));
    expect(withDefect).toBeGreaterThan(0);
  });

  it.each(["polygon", "rle"] as const)(
    "writes COCO with bbox, area and %s segmentation that agree",
    async (segmentation) => {
      const dir = join(root, `coco-${segmentation}`);
      const s = await writeSyntheticDataset(dir, {
        seed: 6,
        count: 24,
        surface: "pcb",
        format: "coco",
        defectRate: 0.6,
        maxDefects: 3,
        segmentation,
      });
      const coco = JSON.parse(await readFile(join(dir, "annotations.json"), "utf8"));
      expect(coco.images).toHaveLength(24);
      expect(coco.categories.map((c: { id: number; name: string }) => [c.id, c.name])).toEqual(
        defectTypesFor("pcb").map((t) => [defectClassIndex[t], t]),
      );
      const images = new Map<number, { file_name: string; width: number; height: number }>(
        coco.images.map((im: { id: number; file_name: string; width: number; height: number }) => [im.id, im]),
      );
      for (const im of images.values())
        expect(await jpegSize(join(dir, "images", im.file_name))).toEqual(["jpeg", W, H]);
      expect(coco.annotations.length).toBe(sum(s.instances));
      expect(new Set(coco.annotations.map((a: { id: number }) => a.id)).size).toBe(coco.annotations.length);
      const perCategory: Record<string, number> = {};
      for (const a of coco.annotations) {
        const im = images.get(a.image_id)!;
        const cat = coco.categories.find((c: { id: number }) => c.id === a.category_id);
        expect(cat).toBeDefined();
        perCategory[cat.name] = (perCategory[cat.name] ?? 0) + 1;
        const [x, y, w, h] = a.bbox as number[];
        expect(x! >= 0 && y! >= 0 && w! > 0 && h! > 0 && x! + w! <= im.width && y! + h! <= im.height).toBe(true);
        expect(a.iscrowd).toBe(0);
        expect(a.area).toBeGreaterThan(0);
        expect(a.area).toBeLessThanOrEqual(w! * h!);
        let xs: number[] = [];
        let ys: number[] = [];
        if (segmentation === "polygon") {
          expect(a.segmentation.length).toBeGreaterThan(0);
          let enclosed = 0;
          for (const p of a.segmentation as number[][]) {
            expect(p.length % 2).toBe(0);
            expect(p.length).toBeGreaterThanOrEqual(8);
            xs = xs.concat(p.filter((_, k) => k % 2 === 0));
            ys = ys.concat(p.filter((_, k) => k % 2 === 1));
            for (let k = 0; k < p.length; k += 2) {
              const j = (k + 2) % p.length;
              enclosed += (p[k]! * p[j + 1]! - p[j]! * p[k + 1]!) / 2;
            }
          }
          // outlines follow pixel edges: they span the box exactly and enclose the mask (holes filled)
          expect(enclosed).toBeGreaterThanOrEqual(a.area);
          expect([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]).toEqual([
            x,
            y,
            x! + w!,
            y! + h!,
          ]);
        } else {
          const rle = a.segmentation as CocoRle;
          expect(rle.size).toEqual([im.height, im.width]);
          expect(rle.counts.reduce((p, n) => p + n, 0)).toBe(im.width * im.height);
          let pos = 0;
          let area = 0;
          for (const [k, n] of rle.counts.entries()) {
            if (k % 2 === 1) {
              area += n;
              for (let i = pos; i < pos + n; i++) {
                xs.push(Math.floor(i / im.height));
                ys.push(i % im.height);
              }
            }
            pos += n;
          }
          expect(area).toBe(a.area);
          expect([Math.min(...xs), Math.min(...ys), Math.max(...xs) + 1, Math.max(...ys) + 1]).toEqual([
            x,
            y,
            x! + w!,
            y! + h!,
          ]);
        }
      }
      expect(perCategory).toEqual(s.instances);
      expect((await tree(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
      // the same arguments write the same annotations
      const again = join(root, `coco-${segmentation}-again`);
      await writeSyntheticDataset(again, {
        seed: 6,
        count: 24,
        surface: "pcb",
        format: "coco",
        defectRate: 0.6,
        maxDefects: 3,
        segmentation,
      });
      expect(await readFile(join(again, "annotations.json"), "utf8")).toBe(
        await readFile(join(dir, "annotations.json"), "utf8"),
      );
    },
  );

  it("writes YOLO labels (normalised centre and size, empty for OK frames) and a data.yaml naming the classes", async () => {
    const dir = join(root, "yolo");
    const s = await writeSyntheticDataset(dir, {
      seed: 7,
      count: 24,
      surface: "pcb",
      format: "yolo",
      defectRate: 0.6,
      maxDefects: 3,
      width: 400,
      height: 300,
    });
    const yaml = await readFile(join(dir, "data.yaml"), "utf8");
    expect(yaml).toMatch(/^train: images$/m);
    expect(yaml).toMatch(/^val: images$/m);
    const names = [...yaml.matchAll(/^ {2}(\d+): (\S+)$/gm)].map((m) => [Number(m[1]), m[2]]);
    expect(names).toEqual(defectTypesFor("pcb").map((t, k) => [k, t]));
    expect(yaml).toMatch(new RegExp(`^nc: ${names.length}$`, "m"));
    const files = await tree(dir);
    const labels = files.filter((f) => f.startsWith("labels/"));
    expect(labels).toHaveLength(24);
    expect(files.filter((f) => f.startsWith("images/")).map((f) => f.slice(7, -4))).toEqual(
      labels.map((f) => f.slice(7, -4)),
    );
    let lines = 0;
    let empty = 0;
    for (const f of labels) {
      const text = await readFile(join(dir, f), "utf8");
      if (text === "") empty++;
      for (const line of text.split("\n").filter(Boolean)) {
        lines++;
        const [cls, cx, cy, w, h, ...rest] = line.split(" ").map(Number);
        expect(rest).toEqual([]);
        expect(Number.isInteger(cls) && cls! >= 0 && cls! < names.length).toBe(true);
        expect(w! > 0 && h! > 0).toBe(true);
        // within the image, up to the 6 decimals written
        expect(cx! - w! / 2).toBeGreaterThanOrEqual(-1e-6);
        expect(cy! - h! / 2).toBeGreaterThanOrEqual(-1e-6);
        expect(cx! + w! / 2).toBeLessThanOrEqual(1 + 1e-6);
        expect(cy! + h! / 2).toBeLessThanOrEqual(1 + 1e-6);
      }
    }
    expect(lines).toBe(sum(s.instances));
    expect(empty).toBe(s.classes.ok ?? 0);
  });

  it("writes Pascal VOC: JPEGImages, Annotations with 1-based inclusive boxes, ImageSets", async () => {
    const dir = join(root, "voc");
    const s = await writeSyntheticDataset(dir, {
      seed: 8,
      count: 20,
      surface: "ceramic-tile",
      format: "voc",
      defectRate: 0.7,
      maxDefects: 2,
    });
    const stems = (await readFile(join(dir, "ImageSets", "Main", "trainval.txt"), "utf8")).trimEnd().split("\n");
    expect(stems).toHaveLength(20);
    let objects = 0;
    const names = defectTypesFor("ceramic-tile");
    for (const stem of stems) {
      const xml = await readFile(join(dir, "Annotations", `${stem}.xml`), "utf8");
      const tag = (src: string, t: string) => src.match(new RegExp(`<${t}>([^<]*)</${t}>`))?.[1];
      expect(tag(xml, "filename")).toBe(`${stem}.jpg`);
      expect(await jpegSize(join(dir, "JPEGImages", `${stem}.jpg`))).toEqual(["jpeg", W, H]);
      expect([tag(xml, "width"), tag(xml, "height"), tag(xml, "depth")]).toEqual(["320", "240", "3"]);
      for (const [, obj] of xml.matchAll(/<object>([\s\S]*?)<\/object>/g)) {
        objects++;
        expect(names).toContain(tag(obj!, "name"));
        const [x0, y0, x1, y1] = ["xmin", "ymin", "xmax", "ymax"].map((t) => Number(tag(obj!, t)));
        expect(1 <= x0! && x0! <= x1! && x1! <= W).toBe(true);
        expect(1 <= y0! && y0! <= y1! && y1! <= H).toBe(true);
        expect(["0", "1"]).toContain(tag(obj!, "truncated"));
      }
    }
    expect(objects).toBe(sum(s.instances));
  });

  it("rejects what it cannot write with a RangeError naming the option", async () => {
    const dir = join(root, "bad");
    await expect(writeSyntheticDataset(dir, { seed: 1, count: 1, format: "tfrecord" as "coco" })).rejects.toThrow(
      /format/,
    );
    await expect(writeSyntheticDataset(dir, { seed: 1, count: -1, format: "coco" })).rejects.toThrow(/count/);
    await expect(
      writeSyntheticDataset(dir, { seed: 1, count: 1, format: "coco", segmentation: "mesh" as "rle" }),
    ).rejects.toThrow(/segmentation/);
    await expect(
      writeSyntheticDataset(dir, { seed: 1, count: 1, format: "yolo", surface: "cast", defects: ["extra-feature"] }),
    ).rejects.toThrow(/defects/);
  });
});
