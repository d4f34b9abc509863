import type { DefectType, SynthDefect } from "./defect-type.js";
import type { CocoRle } from "./mask-to-rle.js";

/** One image of a detection or segmentation dataset, with its defects' outlines. */
export interface AnnotatedImage {
  fileName: string;
  width: number;
  height: number;
  defects: SynthDefect[];
  /** COCO segmentation per defect, parallel to `defects` */
  segmentation?: Array<number[][] | CocoRle>;
}

/**
 * A COCO detection/instance-segmentation document (cocodataset.org/#format-data). Category ids
 * are `defectClassIndex` (1-based, the class masks' values); image ids count from 1. bbox is
 * [x, y, w, h] of the pixel area (pixel (x, y) spans [x, x+1]); area is the mask's pixel count.
 */
export function cocoDocument(
  images: readonly AnnotatedImage[],
  categories: ReadonlyArray<{ id: number; name: DefectType }>,
  description: string,
): unknown {
  let annId = 0;
  return {
    info: { description, version: "1.0", contributor: "Kensa @kensa/synth" },
    licenses: [],
    images: images.map((im, k) => ({ id: k + 1, file_name: im.fileName, width: im.width, height: im.height })),
    annotations: images.flatMap((im, k) =>
      im.defects.map((d, j) => ({
        id: ++annId,
        image_id: k + 1,
        category_id: categories.find((c) => c.name === d.type)!.id,
        bbox: d.box,
        area: d.area,
        segmentation: im.segmentation?.[j] ?? [],
        // every instance is one defect, never a crowd: COCO evaluation must match it
        iscrowd: 0,
      })),
    ),
    categories: categories.map((c) => ({ id: c.id, name: c.name, supercategory: "defect" })),
  };
}

/** YOLO (Ultralytics) label lines: `class cx cy w h`, box centre and size normalised to 0..1. */
export function yoloLabels(im: AnnotatedImage, classIds: ReadonlyMap<DefectType, number>): string {
  return im.defects
    .map((d) => {
      const [x, y, w, h] = d.box;
      const f = (v: number) => Number(v.toFixed(6)).toString();
      return `${classIds.get(d.type)} ${f((x + w / 2) / im.width)} ${f((y + h / 2) / im.height)} ${f(w / im.width)} ${f(h / im.height)}\n`;
    })
    .join("");
}

/** Ultralytics data.yaml: train and val both name `images/` (relative to the file's folder), names by id. */
export function yoloDataYaml(names: readonly DefectType[], comment: string): string {
  const lines = [`# ${comment}`, "train: images", "val: images", `nc: ${names.length}`, "names:"];
  names.forEach((n, k) => {
    lines.push(`  ${k}: ${n}`);
  });
  return `${lines.join("\n")}\n`;
}

const xmlEscape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * A Pascal VOC annotation (the VOC2012 devkit's layout). Boxes use VOC's 1-based, inclusive
 * pixel numbers: xmin = x + 1, xmax = x + w. `truncated` marks a box touching the frame's edge.
 */
export function vocXml(im: AnnotatedImage, database: string): string {
  const objects = im.defects.map((d) => {
    const [x, y, w, h] = d.box;
    const truncated = x === 0 || y === 0 || x + w === im.width || y + h === im.height ? 1 : 0;
    return [
      "  <object>",
      `    <name>${xmlEscape(d.type)}</name>`,
      "    <pose>Unspecified</pose>",
      `    <truncated>${truncated}</truncated>`,
      "    <difficult>0</difficult>",
      "    <bndbox>",
      `      <xmin>${x + 1}</xmin>`,
      `      <ymin>${y + 1}</ymin>`,
      `      <xmax>${x + w}</xmax>`,
      `      <ymax>${y + h}</ymax>`,
      "    </bndbox>",
      "  </object>",
    ].join("\n");
  });
  return [
    "<annotation>",
    "  <folder>JPEGImages</folder>",
    `  <filename>${xmlEscape(im.fileName)}</filename>`,
    `  <source><database>${xmlEscape(database)}</database></source>`,
    `  <size><width>${im.width}</width><height>${im.height}</height><depth>3</depth></size>`,
    "  <segmented>0</segmented>",
    ...objects,
    "</annotation>",
    "",
  ].join("\n");
}
