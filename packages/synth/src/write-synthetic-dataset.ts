import { mkdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { type AnnotatedImage, cocoDocument, vocXml, yoloDataYaml, yoloLabels } from "./dataset-annotations.js";
import { type DefectType, defectClassIndex, defectTypes } from "./defect-type.js";
import { maskToPolygons } from "./mask-to-polygons.js";
import { maskToRle } from "./mask-to-rle.js";
import { encodeJpeg, encodeMaskPng, renderPixels } from "./render-frame.js";
import { resolveSynthOptions, type SynthOptions } from "./synth-options.js";
import { writeFileAtomic } from "./write-file-atomic.js";

export type DatasetFormat = "imagefolder" | "masks" | "coco" | "yolo" | "voc";

export const datasetFormats: readonly DatasetFormat[] = ["imagefolder", "masks", "coco", "yolo", "voc"];

export interface SyntheticDatasetOptions extends Omit<SynthOptions, "masks"> {
  /** frames to write */
  count: number;
  format: DatasetFormat;
  /** index of the first frame, default 0: frames are renderFrame(start … start+count-1) */
  start?: number;
  /** COCO only: "polygon" (default, outlines along pixel edges, holes filled) or "rle" (exact, uncompressed) */
  segmentation?: "polygon" | "rle";
  /**
   * imagefolder only: the class of every frame with a defect (e.g. "defect", for a project
   * labelled ok/defect) instead of its first defect's type
   */
  defectClass?: string;
}

export interface SyntheticDatasetSummary {
  dir: string;
  format: DatasetFormat;
  images: number;
  /** images per class: "ok", or the type of the image's first defect (its ImageFolder class) */
  classes: Record<string, number>;
  /** defect instances per type, over all images */
  instances: Partial<Record<DefectType, number>>;
  /** files written, annotations included */
  files: number;
}

/**
 * Renders `count` frames and writes them into `dir` in a standard dataset layout:
 *
 * - imagefolder: `<class>/<name>.jpg`, class "ok" or the first defect's type (torchvision's
 *   ImageFolder; a class folder exists only if it holds an image, as ImageFolder requires)
 * - masks: `images/<name>.jpg` + `masks/<name>.png` (8-bit single channel, 0 background, k =
 *   `defectClassIndex`), and `classes.txt` naming value k on line k
 * - coco: `images/<name>.jpg` + `annotations.json` (bbox, area, polygon or RLE segmentation)
 * - yolo: `images/<name>.jpg` + `labels/<name>.txt` (empty for an OK frame) + `data.yaml`
 * - voc: `JPEGImages/<name>.jpg` + `Annotations/<name>.xml` + `ImageSets/Main/trainval.txt`
 *
 * `<name>` is the frame index, zero-padded to 6 digits. `dir` is created if missing; files of
 * the same name are replaced, each atomically; nothing else in `dir` is touched.
 */
export async function writeSyntheticDataset(
  dir: string,
  opts: SyntheticDatasetOptions,
): Promise<SyntheticDatasetSummary> {
  const { count, format, start = 0, segmentation = "polygon", defectClass, ...synth } = opts;
  if (!datasetFormats.includes(format)) {
    throw new RangeError(`synth: format must be one of ${datasetFormats.join(", ")}, got ${format}`);
  }
  if (!Number.isSafeInteger(count) || count < 0)
    throw new RangeError(`synth: count must be a non-negative integer, got ${count}`);
  if (!Number.isSafeInteger(start) || start < 0)
    throw new RangeError(`synth: start must be a non-negative integer, got ${start}`);
  if (segmentation !== "polygon" && segmentation !== "rle") {
    throw new RangeError(`synth: segmentation must be "polygon" or "rle", got ${segmentation}`);
  }
  if (defectClass !== undefined && !/^[^/\\.][^/\\]*$/.test(defectClass)) {
    throw new RangeError(`synth: defectClass must be a folder name, got ${JSON.stringify(defectClass)}`);
  }
  if (defectClass === "ok")
    throw new RangeError(`synth: defectClass must not be "ok" (the class of frames without defect)`);
  const o = resolveSynthOptions({ ...synth, masks: format === "masks" || format === "coco" });
  // the dataset's classes: the types this camera can draw, in class-index order
  const names = defectTypes.filter((t) => o.defects.includes(t));
  const imageDir = { imagefolder: "", masks: "images", coco: "images", yolo: "images", voc: "JPEGImages" }[format];
  const subdirs: Record<DatasetFormat, string[]> = {
    imagefolder: [],
    masks: ["images", "masks"],
    coco: ["images"],
    yolo: ["images", "labels"],
    voc: ["JPEGImages", "Annotations", join("ImageSets", "Main")],
  };
  await mkdir(dir, { recursive: true });
  for (const sub of subdirs[format]) await mkdir(join(dir, sub), { recursive: true });

  const classes: Record<string, number> = {};
  const instances: Partial<Record<DefectType, number>> = {};
  const annotated: AnnotatedImage[] = [];
  const madeClassDirs = new Set<string>();
  const digits = Math.max(6, String(start + count - 1).length);
  const description = `Kensa synthetic defects: surface ${o.surface}, seed ${o.seed}, frames ${start}..${start + count - 1}`;
  const yoloIds = new Map(names.map((n, k) => [n, k]));
  let files = 0;

  const emit = async (index: number, px: ReturnType<typeof renderPixels>) => {
    const name = String(index).padStart(digits, "0");
    const fileName = `${name}.jpg`;
    const cls = px.defect ? (format === "imagefolder" && defectClass ? defectClass : px.defect.type) : "ok";
    classes[cls] = (classes[cls] ?? 0) + 1;
    for (const d of px.defects) instances[d.type] = (instances[d.type] ?? 0) + 1;
    const im: AnnotatedImage = { fileName, width: px.width, height: px.height, defects: px.defects };
    if (format === "coco") {
      im.segmentation = px.defectPixels!.map((p) =>
        segmentation === "rle" ? maskToRle(p, px.width, px.height) : maskToPolygons(p, px.width),
      );
    }
    annotated.push(im);
    let folder = imageDir;
    if (format === "imagefolder") {
      folder = cls;
      if (!madeClassDirs.has(cls)) {
        madeClassDirs.add(cls);
        await mkdir(join(dir, cls), { recursive: true });
      }
    }
    const writes: Array<Promise<void>> = [
      encodeJpeg(px, o.jpegQuality).then((jpeg) => writeFileAtomic(join(dir, folder, fileName), jpeg)),
    ];
    if (format === "masks") {
      writes.push(
        encodeMaskPng(px.mask!, px.width, px.height).then((png) =>
          writeFileAtomic(join(dir, "masks", `${name}.png`), png),
        ),
      );
    } else if (format === "yolo") {
      writes.push(writeFileAtomic(join(dir, "labels", `${name}.txt`), yoloLabels(im, yoloIds)));
    } else if (format === "voc") {
      writes.push(writeFileAtomic(join(dir, "Annotations", `${name}.xml`), vocXml(im, description)));
    }
    await Promise.all(writes);
    files += writes.length;
  };

  // render a batch (synchronous, one core) while the previous batch's encodes and writes
  // proceed on libuv's threads
  const batch = Math.max(2, availableParallelism());
  let pending: Promise<unknown> = Promise.resolve();
  for (let first = start; first < start + count; first += batch) {
    const frames: Array<[number, ReturnType<typeof renderPixels>]> = [];
    for (let i = first; i < Math.min(first + batch, start + count); i++) frames.push([i, renderPixels(i, o)]);
    await pending;
    pending = Promise.all(frames.map(([i, px]) => emit(i, px)));
  }
  await pending;
  annotated.sort((a, b) => (a.fileName < b.fileName ? -1 : 1));

  if (format === "coco") {
    const categories = names.map((name) => ({ id: defectClassIndex[name], name }));
    await writeFileAtomic(
      join(dir, "annotations.json"),
      JSON.stringify(cocoDocument(annotated, categories, description)),
    );
    files++;
  } else if (format === "yolo") {
    await writeFileAtomic(join(dir, "data.yaml"), yoloDataYaml(names, description));
    files++;
  } else if (format === "voc") {
    const stems = annotated.map((im) => im.fileName.replace(/\.jpg$/, ""));
    await writeFileAtomic(join(dir, "ImageSets", "Main", "trainval.txt"), stems.map((s) => `${s}\n`).join(""));
    files++;
  } else if (format === "masks") {
    await writeFileAtomic(join(dir, "classes.txt"), ["background", ...defectTypes].map((s) => `${s}\n`).join(""));
    files++;
  }
  return { dir, format, images: count, classes, instances, files };
}
