import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { ArchiveEntry } from "../archive/archive-entry.js";
import { decodeMask, maskBox } from "../masks.js";
import {
  type DatasetExporter,
  type DatasetImporter,
  fail,
  IMAGE_EXT,
  type ImportPlan,
  imageExt,
  type RawObject,
  stemOf,
} from "./dataset-format.js";

const parser = new XMLParser({
  isArray: (name) => name === "object",
  // class names such as "1" must stay strings; coordinates are converted below
  parseTagValue: false,
  processEntities: true,
});

/**
 * Pascal VOC XML, one file per image, paired with the image of the same base name (not the
 * `<filename>` tag, which some sets get wrong: NEU-DET omits the extension in 170 files).
 * When several images share the name, the one nearest the XML in the tree wins. Boxes are
 * taken as VOC states them: x = xmin, w = xmax − xmin. Images without an XML are imported
 * unlabeled.
 */
export const vocImporter: DatasetImporter = {
  type: "voc",
  async plan(entries): Promise<ImportPlan> {
    const plan: ImportPlan = { items: [], failed: [], ignored: 0 };
    const images = entries.filter((e) => IMAGE_EXT.test(e.path));
    const byStem = new Map<string, ArchiveEntry[]>();
    for (const img of images) {
      const list = byStem.get(stemOf(img.path)) ?? [];
      list.push(img);
      byStem.set(stemOf(img.path), list);
    }
    const consumed = new Set<string>();
    for (const xml of entries.filter((e) => e.path.toLowerCase().endsWith(".xml"))) {
      let doc: VocDoc;
      let parseError: string | null = null;
      try {
        const text = (await xml.read()).toString("utf8");
        const valid = XMLValidator.validate(text);
        if (valid !== true) throw new Error(`${valid.err.msg} (line ${valid.err.line})`);
        const a = (parser.parse(text) as { annotation?: unknown }).annotation;
        if (!a || typeof a !== "object") throw new Error("no <annotation> element");
        doc = a as VocDoc;
      } catch (err) {
        doc = {};
        parseError = (err as Error).message;
      }
      const tagStem = typeof doc.filename === "string" ? stemOf(doc.filename) : null;
      const candidates = byStem.get(stemOf(xml.path)) ?? (tagStem ? byStem.get(tagStem) : undefined) ?? [];
      const image = nearest(xml.path, candidates);
      if (!image) {
        plan.failed.push(
          fail(
            xml.path,
            candidates.length > 1 ? "KENSA_ERR_DATASET_ANNOTATION_INVALID" : "KENSA_ERR_DATASET_IMAGE_MISSING",
            candidates.length > 1
              ? `several images are named ${stemOf(xml.path)}.*: ${candidates.map((c) => c.path).join(", ")}`
              : `no image named ${stemOf(xml.path)}.jpg or .png in the archive`,
          ),
        );
        continue;
      }
      consumed.add(image.path);
      if (parseError) {
        plan.failed.push(fail(image.path, "KENSA_ERR_DATASET_ANNOTATION_INVALID", `${xml.path}: ${parseError}`));
        continue;
      }
      const objects: RawObject[] = [];
      let problem: string | null = null;
      for (const o of doc.object ?? []) {
        const name = typeof o.name === "string" ? o.name.trim() : "";
        const b = o.bndbox;
        const [x0, y0, x1, y1] = [b?.xmin, b?.ymin, b?.xmax, b?.ymax].map((v) => Number(v));
        if (!name || ![x0, y0, x1, y1].every((v) => Number.isFinite(v))) {
          problem = "an <object> needs a <name> and a <bndbox> with numeric xmin, ymin, xmax, ymax";
          break;
        }
        if (x1! <= x0! || y1! <= y0!) {
          problem = `box of "${name}" has xmax ≤ xmin or ymax ≤ ymin`;
          break;
        }
        objects.push({ label: name, box: { x: x0!, y: y0!, w: x1! - x0!, h: y1! - y0! } });
      }
      if (problem) {
        plan.failed.push(fail(image.path, "KENSA_ERR_DATASET_ANNOTATION_INVALID", `${xml.path}: ${problem}`));
        continue;
      }
      plan.items.push({ item: image.path, image, label: { classes: [], objects, deriveClasses: true } });
    }
    for (const img of images) {
      if (!consumed.has(img.path)) plan.items.push({ item: img.path, image: img, label: null });
    }
    plan.ignored = entries.filter((e) => !IMAGE_EXT.test(e.path) && !e.path.toLowerCase().endsWith(".xml")).length;
    return plan;
  },
};

interface VocDoc {
  filename?: unknown;
  size?: unknown;
  object?: Array<{ name?: unknown; bndbox?: { xmin?: unknown; ymin?: unknown; xmax?: unknown; ymax?: unknown } }>;
}

/** The candidate sharing the longest leading path with the XML; none when that is a tie. */
function nearest(xmlPath: string, candidates: ArchiveEntry[]): ArchiveEntry | null {
  if (candidates.length <= 1) return candidates[0] ?? null;
  const score = (p: string) => {
    let i = 0;
    while (i < p.length && i < xmlPath.length && p[i] === xmlPath[i]) i++;
    return i;
  };
  const ranked = candidates.map((c) => [score(c.path), c] as const).sort((a, b) => b[0] - a[0]);
  return ranked[0]![0] > ranked[1]![0] ? ranked[0]![1] : null;
}

/** `Annotations/<name>.xml` + `JPEGImages/<name>.<ext>`; boxes rounded to whole pixels. */
export const vocExporter: DatasetExporter = {
  type: "voc",
  async *files(items, ctx) {
    for (const it of items) {
      const file = `${it.name}.${imageExt(it.image.format)}`;
      const objs: string[] = [];
      for (const o of it.label.objects) {
        let b = o.box;
        if (!b && o.mask) b = maskBox(await decodeMask(await ctx.readBlob(o.mask))) ?? undefined;
        if (!b) continue;
        objs.push(
          [
            "\t<object>",
            `\t\t<name>${esc(o.label)}</name>`,
            "\t\t<pose>Unspecified</pose>",
            "\t\t<truncated>0</truncated>",
            "\t\t<difficult>0</difficult>",
            "\t\t<bndbox>",
            `\t\t\t<xmin>${Math.round(b.x)}</xmin>`,
            `\t\t\t<ymin>${Math.round(b.y)}</ymin>`,
            `\t\t\t<xmax>${Math.round(b.x + b.w)}</xmax>`,
            `\t\t\t<ymax>${Math.round(b.y + b.h)}</ymax>`,
            "\t\t</bndbox>",
            "\t</object>",
          ].join("\n"),
        );
      }
      const xml = [
        "<annotation>",
        "\t<folder>JPEGImages</folder>",
        `\t<filename>${esc(file)}</filename>`,
        "\t<source><database>Kensa</database></source>",
        `\t<size><width>${it.image.width}</width><height>${it.image.height}</height><depth>3</depth></size>`,
        "\t<segmented>0</segmented>",
        ...objs,
        "</annotation>",
        "",
      ].join("\n");
      yield { path: `JPEGImages/${file}`, data: await ctx.readBlob(it.image.sha256) };
      yield { path: `Annotations/${it.name}.xml`, data: Buffer.from(xml) };
    }
  },
};

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
