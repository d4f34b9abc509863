import { constants } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  KensaError,
  parseWith,
  type RunParams,
  type SnapshotItem,
  type SnapshotManifest,
  type TrainerBox,
  TrainerJob,
  type TrainerReference,
  type TrainerSample,
  type TrainingRun,
} from "@kensa/contracts";
import sharp from "sharp";
import type { BlobStore } from "../blobstore/blob-store.js";
import { decodeMask, maskBox } from "../datasets/masks.js";
import type { FrozenReferences } from "../datasets/reference-service.js";

export type RunData = NonNullable<TrainingRun["data"]>;

export interface MaterializeOptions {
  runId: string;
  manifest: SnapshotManifest;
  params: RunParams;
  blobs: BlobStore;
  /** the run's work dir: images and masks go to `<dir>/data`, outputs to `<dir>/out` */
  dir: string;
  signal?: AbortSignal;
}

/**
 * Turns a snapshot into a trainer job spec: every usable item's image is copied into the run's
 * work dir, with what
 * the task needs from its label — one class, boxes, or a class-index mask composed from the
 * per-object mask PNGs. Items the task cannot use are left out and listed with the reason.
 * Throws KENSA_ERR_RUN_DATA_INSUFFICIENT when no train or no val sample is left.
 */
export async function materializeJob(o: MaterializeOptions): Promise<{ job: TrainerJob; data: RunData }> {
  const { manifest, params } = o;
  const dataDir = join(o.dir, "data");
  await mkdir(dataDir, { recursive: true });
  const samples: TrainerSample[] = [];
  const skipped: RunData["skipped"] = [];
  const labels = manifest.labels;
  for (const item of manifest.items) {
    o.signal?.throwIfAborted();
    const made = await sampleOf(o.blobs, item, params.task, labels, manifest.okLabels);
    if (typeof made === "string") {
      skipped.push({ sampleId: item.sampleId, reason: made });
      continue;
    }
    const path = join(dataDir, `${item.sampleId}.${item.image.format === "png" ? "png" : "jpg"}`);
    await placeBlob(o.blobs, item.image.sha256, path);
    const sample: TrainerSample = { id: item.sampleId, path, split: item.split, classes: made.classes };
    if (item.referenceKey) sample.referenceKey = item.referenceKey;
    if (made.boxes) sample.boxes = made.boxes;
    if (made.mask) {
      sample.maskPath = join(dataDir, `${item.sampleId}.mask.png`);
      await writeFile(sample.maskPath, await made.mask());
    }
    samples.push(sample);
  }
  const count = (split: string) => samples.filter((s) => s.split === split).length;
  const data: RunData = { train: count("train"), val: count("val"), test: count("test"), skipped };
  if (data.train === 0 || data.val === 0) {
    throw new KensaError(
      "KENSA_ERR_RUN_DATA_INSUFFICIENT",
      `the snapshot gives ${data.train} training and ${data.val} validation samples ` +
        `(${data.test} test, ${skipped.length} left out); the trainer needs at least one of each — label more samples`,
      { data },
    );
  }
  const job = parseWith(
    TrainerJob,
    {
      schema: "kensa.trainer-job/v1",
      jobId: o.runId,
      task: params.task,
      labels,
      okLabels: manifest.okLabels.filter((l) => labels.includes(l)),
      input: params.input,
      hyper: params.hyper,
      seed: params.seed,
      ...(params.threads ? { threads: params.threads } : {}),
      ...(params.budgetSec ? { budgetSec: params.budgetSec } : {}),
      ...(params.budgetSec && params.recipe?.budgetEpochs ? { epochsFromBudget: true } : {}),
      ...(params.tiling ? { tiling: params.tiling } : {}),
      ...(manifest.references ? { reference: await placeReferences(o, manifest.references) } : {}),
      outputDir: join(o.dir, "out"),
      samples,
    },
    "KENSA_ERR_RUN_INVALID",
    "trainer job",
  );
  return { job, data };
}

interface Made {
  classes: string[];
  boxes?: TrainerBox[];
  mask?: () => Promise<Buffer>;
}

/** What the trainer gets for one item, or why the item is left out. */
async function sampleOf(
  blobs: BlobStore,
  item: SnapshotItem,
  task: RunParams["task"],
  labels: readonly string[],
  okLabels: readonly string[],
): Promise<Made | string> {
  const content = item.label.content;
  const known = content.classes.filter((c) => labels.includes(c));
  if (task === "classification") {
    // a label without a class is "background" (a false alarm in a project without OK label)
    const classes = known.length === 0 && okLabels[0] && content.objects.length === 0 ? [okLabels[0]] : known;
    if (classes.length !== 1) return `classification needs exactly one class, the label has ${classes.length}`;
    return { classes };
  }
  const objects = content.objects.filter((ob) => labels.includes(ob.label) && !okLabels.includes(ob.label));
  if (task === "anomaly") {
    // anomalous as the hub's evaluation judges it: the flag, else a class that is not OK, else an object
    const anomalous = content.anomaly ?? (known.some((c) => !okLabels.includes(c)) || objects.length > 0);
    const bad = labels.find((l) => !okLabels.includes(l));
    if (!bad) return "an anomaly project needs a label that is not among its OK labels";
    const ok = okLabels.find((l) => labels.includes(l));
    return { classes: anomalous ? [bad] : ok ? [ok] : [] };
  }
  if (task === "detection") {
    const boxes: TrainerBox[] = [];
    for (const ob of objects) {
      if (ob.box) boxes.push({ label: ob.label, ...clipBox(ob.box, item.image) });
      else if (ob.mask) {
        const bytes = await blobs.get(ob.mask);
        const box = bytes ? maskBox(await decodeMask(bytes)) : null;
        if (box) boxes.push({ label: ob.label, ...clipBox(box, item.image) });
      }
    }
    return { classes: known, boxes };
  }
  // segmentation: value k = labels[k]; 0 (labels[0]) is the background
  return {
    classes: known,
    mask: async () => {
      const { width, height } = item.image;
      const data = new Uint8Array(width * height);
      for (const ob of objects) {
        const k = labels.indexOf(ob.label);
        if (ob.mask) {
          const bytes = await blobs.get(ob.mask);
          if (!bytes)
            throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `mask ${ob.mask} of ${item.sampleId} is missing`);
          const m = await decodeMask(bytes);
          if (m.width !== width || m.height !== height) {
            throw new KensaError(
              "KENSA_ERR_TRAINER_DATA_INVALID",
              `mask ${ob.mask} of sample ${item.sampleId} is ${m.width}×${m.height}, its image ${width}×${height}`,
            );
          }
          for (let i = 0; i < data.length; i++) if (m.data[i]) data[i] = k;
        } else if (ob.box) {
          // verdicts on segmentation models give boxes only: paint the box (coarse, but the defect is in it)
          const b = clipBox(ob.box, item.image);
          for (let y = Math.floor(b.y); y < Math.min(height, Math.ceil(b.y + b.h)); y++) {
            data.fill(k, y * width + Math.floor(b.x), y * width + Math.min(width, Math.ceil(b.x + b.w)));
          }
        }
      }
      return sharp(Buffer.from(data), { raw: { width, height, channels: 1 } })
        .toColourspace("b-w")
        .png()
        .toBuffer();
    },
  };
}

function clipBox(
  b: { x: number; y: number; w: number; h: number },
  img: { width: number; height: number },
): { x: number; y: number; w: number; h: number } {
  const x = Math.max(0, Math.min(b.x, img.width - 1));
  const y = Math.max(0, Math.min(b.y, img.height - 1));
  return { x, y, w: Math.max(1, Math.min(b.w, img.width - x)), h: Math.max(1, Math.min(b.h, img.height - y)) };
}

/**
 * A copy, not a link: a trainer that wrote to its input would otherwise change a
 * content-addressed blob in place. COPYFILE_FICLONE makes it a reflink where the filesystem
 * can (btrfs, XFS, APFS) and a plain copy elsewhere.
 */
async function placeBlob(blobs: BlobStore, sha256: string, path: string): Promise<void> {
  if (blobs.supportsLocalPaths && blobs.path) {
    try {
      await copyFile(blobs.path(sha256), path, constants.COPYFILE_FICLONE);
      return;
    } catch {
      // fall through to reading the blob
    }
  }
  const bytes = await blobs.get(sha256);
  if (!bytes) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `image ${sha256} is missing from the blob store`);
  await writeFile(path, bytes);
}

/**
 * A snapshot that froze the project's golden references trains a reference-aware model
 * (docs/training.md "Reference-image inspection"): each reference is copied next to the images.
 */
async function placeReferences(o: MaterializeOptions, refs: FrozenReferences): Promise<TrainerReference> {
  if (o.params.tiling) {
    throw new KensaError(
      "KENSA_ERR_RUN_INVALID",
      "the project has golden references, and reference-image inspection cannot be combined with tiling",
    );
  }
  const images: Record<string, string> = {};
  for (const [i, ref] of refs.images.entries()) {
    // by index, not by key: a key is the user's text, a file name is ours
    const path = join(o.dir, "data", `reference-${i}`);
    await placeBlob(o.blobs, ref.sha256, path);
    images[ref.key] = path;
  }
  return { images, defaultKey: refs.defaultKey };
}
