import type { RunParams, SnapshotItem, SnapshotManifest } from "@kensa/contracts";
import sharp from "sharp";
import { decodeMask, maskBox } from "../../datasets/masks.js";

/** What an automatic recipe is chosen from: measured on one snapshot. */
export interface SnapshotFacts {
  /** items per split */
  splits: { train: number; val: number; test: number };
  /** median width / height of the images */
  ratio: number;
  /** px, median long side of the images */
  longSide: number;
  /** images whose pixels were looked at, and how many of them are grayscale */
  gray: { checked: number; gray: number; total: number };
  /**
   * The labelled objects (boxes and masks of labels the task trains): their count and the
   * 10th percentile of their smallest extent (a box's short side; a mask's thickness, area / long
   * side of its box) as a share of the long side of their image. null without objects.
   */
  objects: { count: number; measured: number; smallShare: number | null };
  /**
   * training images per class (classification) or with and without objects (detection,
   * segmentation): what class balancing would even out
   */
  counts: Record<string, number>;
}

/** at most this many images are decoded for the grayscale check (evenly spread over the snapshot) */
export const MAX_IMAGES_CHECKED = 128;
/** at most this many masks are decoded to measure their thickness */
export const MAX_MASKS_MEASURED = 128;
/** a channel difference up to this (of 255) is JPEG chroma noise, not colour */
const GRAY_TOLERANCE = 6;

/** The subset of the blob store the facts need. */
export interface BlobReader {
  get(sha256: string): Promise<Uint8Array | null>;
}

/**
 * Measures a snapshot for a recipe. Sizes, boxes and classes come from the manifest; whether
 * images are grayscale and how thick masks are needs their pixels, so at most
 * MAX_IMAGES_CHECKED images and MAX_MASKS_MEASURED masks are decoded (bounded work at run creation).
 */
export async function snapshotFacts(
  task: RunParams["task"],
  manifest: SnapshotManifest,
  blobs: BlobReader,
): Promise<SnapshotFacts> {
  const items = manifest.items;
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const splits = { train: 0, val: 0, test: 0 };
  for (const i of items) splits[i.split]++;
  const trained = trainedLabels(task, manifest);
  return {
    splits,
    ratio: median(items.map((i) => i.image.width / i.image.height)) ?? 1,
    longSide: median(items.map((i) => Math.max(i.image.width, i.image.height))) ?? 0,
    gray: await grayCount(items, blobs),
    objects:
      task === "classification"
        ? { count: 0, measured: 0, smallShare: null }
        : await objectSizes(items, trained, blobs),
    counts: classCounts(task, manifest, trained),
  };
}

/** labels whose objects the model learns (okLabels are background, not objects) */
function trainedLabels(task: RunParams["task"], m: SnapshotManifest): Set<string> {
  return new Set(task === "classification" ? m.labels : m.labels.filter((l) => !m.okLabels.includes(l)));
}

/** every n-th of `xs` so that at most `max` are taken, spread over the whole list */
function spread<T>(xs: readonly T[], max: number): T[] {
  if (xs.length <= max) return [...xs];
  const step = xs.length / max;
  return Array.from({ length: max }, (_, k) => xs[Math.floor(k * step)] as T);
}

async function grayCount(items: readonly SnapshotItem[], blobs: BlobReader): Promise<SnapshotFacts["gray"]> {
  let checked = 0;
  let gray = 0;
  for (const item of spread(items, MAX_IMAGES_CHECKED)) {
    const bytes = await blobs.get(item.image.sha256);
    if (!bytes) continue;
    checked++;
    if (await isGray(bytes)) gray++;
    // one colour image decides: 3 channels
    else break;
  }
  return { checked, gray, total: items.length };
}

/** A grey-encoded image, or a colour-encoded one whose channels are equal (grey saved as RGB). */
export async function isGray(bytes: Uint8Array): Promise<boolean> {
  const meta = await sharp(bytes).metadata();
  if ((meta.channels ?? 3) <= 2) return true;
  // a thumbnail is enough: a colour image has colour in most of its area
  const { data, info } = await sharp(bytes)
    .resize(48, 48, { fit: "inside" })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  for (let i = 0; i + 2 < data.length; i += info.channels) {
    const r = data[i] ?? 0;
    const g = data[i + 1] ?? 0;
    const b = data[i + 2] ?? 0;
    if (Math.abs(r - g) > GRAY_TOLERANCE || Math.abs(g - b) > GRAY_TOLERANCE) return false;
  }
  return true;
}

async function objectSizes(
  items: readonly SnapshotItem[],
  trained: Set<string>,
  blobs: BlobReader,
): Promise<SnapshotFacts["objects"]> {
  const shares: number[] = [];
  const masks: Array<{ sha: string; long: number }> = [];
  let count = 0;
  for (const item of items) {
    const long = Math.max(item.image.width, item.image.height);
    for (const ob of item.label.content.objects) {
      if (!trained.has(ob.label)) continue;
      count++;
      if (ob.mask) masks.push({ sha: ob.mask, long });
      else if (ob.box) {
        shares.push(Math.min(ob.box.w, ob.box.h) / long);
      }
    }
  }
  for (const m of spread(masks, MAX_MASKS_MEASURED)) {
    const bytes = await blobs.get(m.sha);
    if (!bytes) continue;
    const mask = await decodeMask(bytes);
    const box = maskBox(mask);
    if (!box) continue;
    let area = 0;
    for (const v of mask.data) if (v) area++;
    // a scratch's box is large, its stroke thin: the mean thickness is what must survive downscaling
    const px = Math.min(box.w, box.h, area / Math.max(box.w, box.h));
    shares.push(px / m.long);
  }
  const p10 = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(0.1 * (xs.length - 1))] ?? null;
  return { count, measured: shares.length, smallShare: p10(shares) };
}

function classCounts(task: RunParams["task"], m: SnapshotManifest, trained: Set<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  const train = m.items.filter((i) => i.split === "train");
  if (task === "classification") {
    for (const l of m.labels) counts[l] = 0;
    for (const i of train) {
      // as the job gets it: a label without a class is the first OK label (materialize-job.ts)
      const known = i.label.content.classes.filter((c) => trained.has(c));
      const cls = known.length === 0 && i.label.content.objects.length === 0 ? m.okLabels[0] : known[0];
      if (cls !== undefined && known.length <= 1) counts[cls] = (counts[cls] ?? 0) + 1;
    }
    return counts;
  }
  counts["with objects"] = 0;
  counts["without objects"] = 0;
  for (const i of train) {
    const has = i.label.content.objects.some((o) => trained.has(o.label));
    counts[has ? "with objects" : "without objects"]! += 1;
  }
  return counts;
}
