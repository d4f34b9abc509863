import { parse as parseYaml } from "yaml";
import type { ArchiveEntry } from "../archive/archive-entry.js";
import { decodeMask, maskBox } from "../masks.js";
import {
  type DatasetExporter,
  type DatasetImporter,
  dirOf,
  fail,
  IMAGE_EXT,
  type ImportPlan,
  imageExt,
  type RawObject,
  stemOf,
} from "./dataset-format.js";

const NAME_FILES = /(^|\/)(data\.ya?ml|classes\.txt|obj\.names|[^/]+\.names)$/i;

/**
 * YOLO txt: `<class> <cx> <cy> <w> <h>` normalized, or a polygon `<class> x1 y1 x2 y2 …`
 * (Ultralytics segmentation) which becomes a mask. The label file of
 * `…/images/…/x.jpg` is `…/labels/…/x.txt`, or `x.txt` beside the image. An image without
 * a label file is background, as YOLO trainers read it. Class names come from data.yaml
 * (`names` as list or map), classes.txt or *.names.
 */
export const yoloImporter: DatasetImporter = {
  type: "yolo",
  async plan(entries): Promise<ImportPlan> {
    const plan: ImportPlan = { items: [], failed: [], ignored: 0 };
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const nameFile = entries.filter((e) => NAME_FILES.test(e.path)).sort((a, b) => a.path.length - b.path.length)[0];
    let names: string[] | null = null;
    let namesProblem = "no class names: add data.yaml (names) or classes.txt";
    if (nameFile) {
      try {
        names = await readNames(nameFile);
      } catch (err) {
        namesProblem = `${nameFile.path}: ${(err as Error).message}`;
      }
    }
    const used = new Set<string>(nameFile ? [nameFile.path] : []);
    for (const img of entries.filter((e) => IMAGE_EXT.test(e.path))) {
      const txt = labelFileOf(img.path, byPath);
      used.add(img.path);
      if (!txt) {
        plan.items.push({ item: img.path, image: img, label: { classes: [], objects: [], deriveClasses: true } });
        continue;
      }
      used.add(txt.path);
      if (!names) {
        plan.failed.push(fail(img.path, "KENSA_ERR_DATASET_ANNOTATION_INVALID", namesProblem));
        continue;
      }
      const parsed = parseLabelFile((await txt.read()).toString("utf8"), names);
      if ("error" in parsed) {
        plan.failed.push(fail(img.path, parsed.code, `${txt.path}: ${parsed.error}`));
        continue;
      }
      plan.items.push({
        item: img.path,
        image: img,
        label: { classes: [], objects: parsed.objects, deriveClasses: true },
      });
    }
    for (const e of entries) {
      if (used.has(e.path)) continue;
      if (e.path.toLowerCase().endsWith(".txt") && !/(^|\/)(readme|license)[^/]*$/i.test(e.path)) {
        plan.failed.push(
          fail(e.path, "KENSA_ERR_DATASET_IMAGE_MISSING", "a label file without an image of the same name"),
        );
      } else plan.ignored++;
    }
    return plan;
  },
};

function labelFileOf(imagePath: string, byPath: Map<string, ArchiveEntry>): ArchiveEntry | undefined {
  const stem = stemOf(imagePath);
  const dir = dirOf(imagePath);
  const segs = dir.split("/");
  const i = segs.lastIndexOf("images");
  if (i >= 0) {
    const labels = [...segs.slice(0, i), "labels", ...segs.slice(i + 1)].filter(Boolean).join("/");
    const e = byPath.get(`${labels ? `${labels}/` : ""}${stem}.txt`);
    if (e) return e;
  }
  return byPath.get(`${dir ? `${dir}/` : ""}${stem}.txt`);
}

async function readNames(e: ArchiveEntry): Promise<string[]> {
  const text = (await e.read()).toString("utf8");
  if (/\.ya?ml$/i.test(e.path)) {
    const doc = parseYaml(text) as { names?: unknown } | null;
    const n = doc?.names;
    if (Array.isArray(n)) return n.map(String);
    if (n && typeof n === "object") {
      const out: string[] = [];
      for (const [k, v] of Object.entries(n)) out[Number(k)] = String(v);
      if (out.some((v) => v === undefined) || out.length === 0) throw new Error("names keys must be 0..n-1");
      return out;
    }
    throw new Error("no `names` list or map");
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

type Parsed =
  | { objects: RawObject[] }
  | { error: string; code: "KENSA_ERR_DATASET_ANNOTATION_INVALID" | "KENSA_ERR_DATASET_UNKNOWN_CLASS" };

function parseLabelFile(text: string, names: string[]): Parsed {
  const objects: RawObject[] = [];
  const lines = text.split(/\r?\n/);
  for (const [n, line] of lines.entries()) {
    const t = line.trim();
    if (!t) continue;
    const parts = t.split(/\s+/).map(Number);
    const bad = (why: string): Parsed => ({
      error: `line ${n + 1}: ${why}`,
      code: "KENSA_ERR_DATASET_ANNOTATION_INVALID",
    });
    if (parts.some((v) => !Number.isFinite(v))) return bad("not numbers");
    const cls = parts[0]!;
    const label = Number.isInteger(cls) ? names[cls] : undefined;
    if (label === undefined) {
      return {
        error: `line ${n + 1}: class index ${cls} is not in the ${names.length} names`,
        code: "KENSA_ERR_DATASET_UNKNOWN_CLASS",
      };
    }
    const v = parts.slice(1);
    if (v.some((x) => x < -0.001 || x > 1.001)) return bad("coordinates must be normalized to [0, 1]");
    if (v.length === 4) {
      const [cx, cy, w, h] = v as [number, number, number, number];
      if (w <= 0 || h <= 0) return bad("a box needs a positive width and height");
      objects.push({ label, box: { x: cx - w / 2, y: cy - h / 2, w, h, normalized: true } });
    } else if (v.length >= 6 && v.length % 2 === 0) {
      objects.push({ label, mask: { type: "polygons", polygons: [v], normalized: true } });
    } else return bad(`expected 5 values (box) or an odd count ≥ 7 (polygon), got ${parts.length}`);
  }
  return { objects };
}

/** `images/`, `labels/` and data.yaml with the project's labels as names, in order. */
export const yoloExporter: DatasetExporter = {
  type: "yolo",
  async *files(items, ctx) {
    const index = new Map(ctx.labels.map((l, i) => [l, i]));
    for (const it of items) {
      const { width: W, height: H } = it.image;
      const lines: string[] = [];
      for (const o of it.label.objects) {
        let b = o.box;
        if (!b && o.mask) b = maskBox(await decodeMask(await ctx.readBlob(o.mask))) ?? undefined;
        if (!b) continue;
        const f = (v: number) => String(Number(v.toFixed(8)));
        lines.push(
          `${index.get(o.label)} ${f((b.x + b.w / 2) / W)} ${f((b.y + b.h / 2) / H)} ${f(b.w / W)} ${f(b.h / H)}`,
        );
      }
      yield { path: `images/${it.name}.${imageExt(it.image.format)}`, data: await ctx.readBlob(it.image.sha256) };
      yield { path: `labels/${it.name}.txt`, data: Buffer.from(lines.length ? `${lines.join("\n")}\n` : "") };
    }
    const yaml = [
      "# exported by Kensa",
      "path: .",
      "train: images",
      "val: images",
      `nc: ${ctx.labels.length}`,
      "names:",
      ...ctx.labels.map((l) => `  - ${JSON.stringify(l)}`),
      "",
    ].join("\n");
    yield { path: "data.yaml", data: Buffer.from(yaml) };
  },
};
