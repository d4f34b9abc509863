import { KensaError } from "@kensa/contracts";
import type { ArchiveEntry } from "../archive/archive-entry.js";
import { compileSafePattern, type SafePattern, timeSlicer } from "../safe-pattern.js";
import {
  type DatasetExporter,
  type DatasetImporter,
  dirOf,
  fail,
  IMAGE_EXT,
  type ImportPlan,
  imageExt,
  stemOf,
} from "./dataset-format.js";
import { mergedMask } from "./merged-mask.js";

/**
 * The class of an image path under `imagefolder`'s `classFrom` rule: `dir` (the top folder) or
 * `regex:<re>` (capture group 1, else the whole match); null when the path yields none.
 */
export function classOfPath(rule: string, path: string): string | null {
  if (rule === "dir") {
    const slash = path.indexOf("/");
    return slash < 0 ? null : path.slice(0, slash);
  }
  const m = classRegex(rule).exec(path);
  return m ? (m[1] ?? m[0]) || null : null;
}

/** Checks a `classFrom` rule before any work starts. */
export function checkClassFromRule(rule: string): void {
  if (rule !== "dir") classRegex(rule);
}

/** Compiled once per rule: `classOfPath` runs once per archive entry. */
const compiled = new Map<string, SafePattern>();

function classRegex(rule: string): SafePattern {
  const invalid = (why: string) =>
    new KensaError("KENSA_ERR_VALIDATION", `classFrom "${rule}": ${why}`, {
      issues: [{ path: "/classFrom", message: why }],
    });
  if (!rule.startsWith("regex:")) throw invalid("use dir or regex:<re>");
  const known = compiled.get(rule);
  if (known) return known;
  const re = compileSafePattern(rule.slice(6), "classFrom", rule);
  if (compiled.size >= 64) compiled.clear();
  compiled.set(rule, re);
  return re;
}

/**
 * `<class>/…/<image>`: the class is the top folder. A PNG `<stem><maskSuffix>.png` beside an
 * image is its mask (magnetic-tile style, with an empty suffix: `x.jpg` + `x.png`). With
 * `classFrom: regex:<re>` the class comes from the path instead (NEU style: `crazing_12.jpg`).
 */
export const imageFolderImporter: DatasetImporter = {
  type: "imagefolder",
  async plan(entries, ctx): Promise<ImportPlan> {
    const suffix = ctx.options.maskSuffix;
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const images = entries.filter((e) => IMAGE_EXT.test(e.path));
    const maskOf = new Map<string, ArchiveEntry>();
    const isMask = new Set<string>();
    for (const img of images) {
      const dir = dirOf(img.path);
      const candidate = `${dir ? `${dir}/` : ""}${stemOf(img.path)}${suffix}.png`;
      const mask = byPath.get(candidate);
      if (mask && candidate !== img.path) {
        maskOf.set(img.path, mask);
        isMask.add(candidate);
      }
    }
    const plan: ImportPlan = { items: [], failed: [], ignored: 0 };
    const slice = timeSlicer();
    for (const e of entries) {
      await slice();
      if (isMask.has(e.path)) continue;
      if (!IMAGE_EXT.test(e.path)) {
        plan.ignored++;
        continue;
      }
      const cls = classOfPath(ctx.options.classFrom, e.path);
      if (cls === null) {
        plan.failed.push(
          fail(
            e.path,
            "KENSA_ERR_DATASET_ANNOTATION_INVALID",
            ctx.options.classFrom === "dir"
              ? "the image is not inside a class folder (<class>/<image>)"
              : `the path does not match classFrom "${ctx.options.classFrom}"`,
          ),
        );
        continue;
      }
      const mask = maskOf.get(e.path);
      plan.items.push({
        item: e.path,
        image: e,
        label: {
          classes: [cls],
          objects: mask ? [{ label: cls, mask: { type: "png", entry: mask } }] : [],
          deriveClasses: false,
        },
      });
    }
    return plan;
  },
};

/** Samples with exactly one class; masks become `<stem>_mask.png` beside the image. */
export const imageFolderExporter: DatasetExporter = {
  type: "imagefolder",
  async *files(items, ctx) {
    for (const it of items) {
      const cls = it.label.classes;
      if (cls.length !== 1) {
        ctx.skip(it.sampleId, cls.length === 0 ? "no class" : `several classes (${cls.join(", ")})`);
        continue;
      }
      const dir = safeFolder(cls[0]!);
      yield { path: `${dir}/${it.name}.${imageExt(it.image.format)}`, data: await ctx.readBlob(it.image.sha256) };
      const mask = await mergedMask(it.label.objects, ctx.readBlob);
      if (mask) yield { path: `${dir}/${it.name}_mask.png`, data: mask };
    }
  },
};

/** Class names become folder names; a slash would create another level. */
export function safeFolder(name: string): string {
  return name.replace(/[/\\]/g, "_");
}
