import type { ArchiveEntry } from "../archive/archive-entry.js";
import { decodeMask, maskBox } from "../masks.js";
import { rleEncode } from "./coco-rle.js";
import {
  type DatasetExporter,
  type DatasetImporter,
  dirOf,
  fail,
  IMAGE_EXT,
  type ImportPlan,
  imageExt,
  type RawObject,
} from "./dataset-format.js";

interface CocoFile {
  images?: Array<{ id?: unknown; file_name?: unknown; width?: unknown; height?: unknown }>;
  annotations?: Array<{ image_id?: unknown; category_id?: unknown; bbox?: unknown; segmentation?: unknown }>;
  categories?: Array<{ id?: unknown; name?: unknown }>;
}

const EXPORT_MANIFEST = "kensa-export.json";

/**
 * COCO instances JSON: every `.json` in the archive (or `annotations`), images resolved
 * relative to the JSON's folder, its `images/` folder, or the archive root. Only images a
 * file lists are imported; an image without annotations is background. Boxes come from
 * `bbox`, masks from polygons or RLE (both forms).
 */
export const cocoImporter: DatasetImporter = {
  type: "coco",
  async plan(entries, ctx): Promise<ImportPlan> {
    const plan: ImportPlan = { items: [], failed: [], ignored: 0 };
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const wanted = ctx.options.annotations;
    const jsons = entries.filter((e) =>
      wanted ? e.path === wanted : e.path.toLowerCase().endsWith(".json") && !e.path.endsWith(EXPORT_MANIFEST),
    );
    if (wanted && jsons.length === 0) {
      plan.failed.push(
        fail(wanted, "KENSA_ERR_DATASET_IMAGE_MISSING", `no annotation file "${wanted}" in the archive`),
      );
    }
    const used = new Set<string>(jsons.map((j) => j.path));
    for (const j of jsons) {
      let coco: CocoFile;
      try {
        coco = JSON.parse((await j.read()).toString("utf8")) as CocoFile;
        if (!Array.isArray(coco.images) || !Array.isArray(coco.categories)) throw new Error("no images or categories");
        for (const key of ["images", "annotations", "categories"] as const) {
          const list: unknown = coco[key] ?? [];
          if (!Array.isArray(list)) throw new Error(`${key} is not a list`);
          const i = list.findIndex((v) => typeof v !== "object" || v === null || Array.isArray(v));
          if (i >= 0) throw new Error(`${key}[${i}] is not an object`);
        }
      } catch (err) {
        plan.failed.push(
          fail(j.path, "KENSA_ERR_DATASET_ANNOTATION_INVALID", `not a COCO file: ${(err as Error).message}`),
        );
        continue;
      }
      const cats = new Map<unknown, string>();
      for (const c of coco.categories ?? []) if (typeof c.name === "string") cats.set(c.id, c.name);
      const anns = new Map<unknown, NonNullable<CocoFile["annotations"]>>();
      for (const a of coco.annotations ?? []) {
        const list = anns.get(a.image_id) ?? [];
        list.push(a);
        anns.set(a.image_id, list);
      }
      const base = dirOf(j.path);
      for (const img of coco.images ?? []) {
        const name = typeof img.file_name === "string" ? img.file_name : "";
        const entry = resolveImage(name, base, byPath);
        if (!entry) {
          plan.failed.push(
            fail(
              name || `${j.path}#${String(img.id)}`,
              "KENSA_ERR_DATASET_IMAGE_MISSING",
              `${j.path} lists "${name}", which is not in the archive`,
            ),
          );
          continue;
        }
        used.add(entry.path);
        const objects: RawObject[] = [];
        let problem: string | null = null;
        for (const a of anns.get(img.id) ?? []) {
          const label = cats.get(a.category_id);
          if (label === undefined) {
            problem = `annotation with unknown category_id ${String(a.category_id)}`;
            break;
          }
          const o: RawObject = { label };
          if (Array.isArray(a.bbox) && a.bbox.length === 4 && a.bbox.every((v) => typeof v === "number")) {
            const [x, y, w, h] = a.bbox as number[];
            if (w! > 0 && h! > 0) o.box = { x: x!, y: y!, w: w!, h: h! };
          }
          const seg = a.segmentation;
          if (Array.isArray(seg) && seg.length > 0) {
            if (!seg.every((p) => Array.isArray(p) && p.length >= 6 && p.every((v) => typeof v === "number"))) {
              problem = "a polygon needs at least 3 points of numbers";
              break;
            }
            o.mask = { type: "polygons", polygons: seg as number[][] };
          } else if (seg && typeof seg === "object" && !Array.isArray(seg)) {
            const rle = seg as { size?: unknown; counts?: unknown };
            if (
              !Array.isArray(rle.size) ||
              rle.size.length !== 2 ||
              !(typeof rle.counts === "string" || Array.isArray(rle.counts))
            ) {
              problem = "an RLE segmentation needs size [h, w] and counts";
              break;
            }
            o.mask = {
              type: "rle",
              rle: { size: rle.size as [number, number], counts: rle.counts as string | number[] },
            };
          }
          if (!o.box && !o.mask) {
            problem = "an annotation has neither a bbox nor a segmentation";
            break;
          }
          objects.push(o);
        }
        if (problem) {
          plan.failed.push(fail(entry.path, "KENSA_ERR_DATASET_ANNOTATION_INVALID", `${j.path}: ${problem}`));
          continue;
        }
        plan.items.push({ item: entry.path, image: entry, label: { classes: [], objects, deriveClasses: true } });
      }
    }
    plan.ignored = entries.filter((e) => !used.has(e.path)).length;
    return plan;
  },
};

function resolveImage(name: string, base: string, byPath: Map<string, ArchiveEntry>): ArchiveEntry | null {
  if (!name || !IMAGE_EXT.test(name)) return null;
  const clean = name.replace(/\\/g, "/").replace(/^\.\//, "");
  const prefix = base ? `${base}/` : "";
  for (const p of [`${prefix}${clean}`, `${prefix}images/${clean}`, clean, `images/${clean}`]) {
    const e = byPath.get(p);
    if (e) return e;
  }
  return null;
}

/** `annotations.json` + `images/`; categories in the project's label order, ids from 1. */
export const cocoExporter: DatasetExporter = {
  type: "coco",
  async *files(items, ctx) {
    const images: unknown[] = [];
    const annotations: unknown[] = [];
    const catId = new Map(ctx.labels.map((l, i) => [l, i + 1]));
    let annId = 1;
    for (const [i, it] of items.entries()) {
      const fileName = `${it.name}.${imageExt(it.image.format)}`;
      images.push({ id: i + 1, file_name: fileName, width: it.image.width, height: it.image.height });
      for (const o of it.label.objects) {
        let bbox = o.box ? [o.box.x, o.box.y, o.box.w, o.box.h] : null;
        let segmentation: unknown = [];
        let area = o.box ? o.box.w * o.box.h : 0;
        if (o.mask) {
          const m = await decodeMask(await ctx.readBlob(o.mask));
          segmentation = rleEncode(m);
          area = m.data.reduce((n, v) => n + (v ? 1 : 0), 0);
          const mb = maskBox(m);
          if (!bbox && mb) bbox = [mb.x, mb.y, mb.w, mb.h];
        }
        annotations.push({
          id: annId++,
          image_id: i + 1,
          category_id: catId.get(o.label) ?? 0,
          bbox: bbox ?? [0, 0, 0, 0],
          area,
          iscrowd: 0,
          segmentation,
        });
      }
      yield { path: `images/${fileName}`, data: await ctx.readBlob(it.image.sha256) };
    }
    const categories = ctx.labels.map((name, i) => ({ id: i + 1, name, supercategory: "" }));
    const doc = { info: { description: "exported by Kensa" }, images, annotations, categories };
    yield { path: "annotations.json", data: Buffer.from(JSON.stringify(doc)) };
  },
};
