import type { ArchiveEntry } from "../archive/archive-entry.js";
import {
  type DatasetExporter,
  type DatasetImporter,
  fail,
  IMAGE_EXT,
  type ImportPlan,
  imageExt,
} from "./dataset-format.js";
import { safeFolder } from "./image-folder-format.js";
import { mergedMask } from "./merged-mask.js";

const noExt = (p: string) => p.replace(/\.[^./]+$/, "");

/**
 * `images/<path>.<jpg|png>` with `masks/<path>.png` (class: `maskClass`, by default the
 * project's first non-OK label) or `masks/<class>/<path>.png` (one mask per class). An
 * image without a mask is background; an all-black mask adds nothing.
 */
export const maskFolderImporter: DatasetImporter = {
  type: "masks",
  async plan(entries, ctx): Promise<ImportPlan> {
    const plan: ImportPlan = { items: [], failed: [], ignored: 0 };
    const images = new Map<string, ArchiveEntry>();
    for (const e of entries) {
      if (e.path.startsWith("images/") && IMAGE_EXT.test(e.path)) images.set(noExt(e.path.slice(7)), e);
    }
    const defaultClass = ctx.options.maskClass ?? ctx.labels.find((l) => !ctx.okLabels.includes(l));
    const masks = new Map<string, Array<{ cls: string; entry: ArchiveEntry }>>();
    const broken = new Set<string>();
    for (const e of entries) {
      if (!e.path.startsWith("masks/")) {
        if (!e.path.startsWith("images/") || !IMAGE_EXT.test(e.path)) plan.ignored++;
        continue;
      }
      if (!e.path.toLowerCase().endsWith(".png")) {
        plan.ignored++;
        continue;
      }
      const rel = noExt(e.path.slice(6));
      let key = rel;
      let cls = defaultClass;
      if (!images.has(rel)) {
        const slash = rel.indexOf("/");
        key = slash > 0 ? rel.slice(slash + 1) : rel;
        cls = slash > 0 ? rel.slice(0, slash) : undefined;
      }
      if (!images.has(key)) {
        plan.failed.push(
          fail(e.path, "KENSA_ERR_DATASET_IMAGE_MISSING", `no image images/${key}.jpg or .png for this mask`),
        );
        continue;
      }
      if (!cls) {
        plan.failed.push(
          fail(
            images.get(key)!.path,
            "KENSA_ERR_DATASET_UNKNOWN_CLASS",
            "no class for masks/<name>.png: set maskClass",
          ),
        );
        broken.add(key);
        continue;
      }
      const list = masks.get(key) ?? [];
      list.push({ cls, entry: e });
      masks.set(key, list);
    }
    for (const [key, img] of images) {
      if (broken.has(key)) continue;
      const objects = (masks.get(key) ?? []).map((m) => ({
        label: m.cls,
        mask: { type: "png" as const, entry: m.entry },
      }));
      plan.items.push({ item: img.path, image: img, label: { classes: [], objects, deriveClasses: true } });
    }
    return plan;
  },
};

/** `images/` + `masks/<class>/` (one merged mask per class and image). */
export const maskFolderExporter: DatasetExporter = {
  type: "masks",
  async *files(items, ctx) {
    for (const it of items) {
      yield { path: `images/${it.name}.${imageExt(it.image.format)}`, data: await ctx.readBlob(it.image.sha256) };
      const labels = [...new Set(it.label.objects.filter((o) => o.mask).map((o) => o.label))].sort();
      for (const label of labels) {
        const mask = await mergedMask(
          it.label.objects.filter((o) => o.label === label),
          ctx.readBlob,
        );
        if (mask) yield { path: `masks/${safeFolder(label)}/${it.name}.png`, data: mask };
      }
    }
  },
};
