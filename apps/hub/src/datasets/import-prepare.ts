import {
  type ErrorCode,
  type ImportOptions,
  type ItemFailure,
  isKensaError,
  KensaError,
  type LabelObject,
  sha256Hex,
} from "@kensa/contracts";
import { probeImageWithin } from "../limits/image-gate.js";
import type { ArchiveLimits } from "./archive/archive-entry.js";
import { openArchive } from "./archive/open-archive.js";
import { rleDecode } from "./formats/coco-rle.js";
import type { DatasetImporter, PlannedItem, RawMask, RawObject } from "./formats/dataset-format.js";
import { assignGroupKeys } from "./group-key.js";
import { type BinaryMask, decodeMask, encodeMask, isEmpty, rasterizePolygons } from "./masks.js";

export interface ImportProgress {
  done: number;
  total: number;
}

/** One good item, decoded and checked, its blobs stored: what the commit turns into a sample (and its label). */
export interface PreparedItem {
  item: string;
  sha256: string;
  format: "jpeg" | "png";
  width: number;
  height: number;
  groupKey: string | null;
  /** classes this item adds to the project (addClasses) */
  newClasses: string[];
  /** null: unlabeled */
  content: { classes: string[]; objects: LabelObject[]; anomaly: boolean | null } | null;
}

/** What an import's prepare phase found: good items in archive order, failures, ignored files. */
export interface PreparedImport {
  items: PreparedItem[];
  failed: ItemFailure[];
  ignored: number;
  /** items the format planned */
  total: number;
}

/** The project as an import reads it (the hub's record, or what a worker was handed). */
export interface ImportProject {
  slug: string;
  task: string;
  labels: readonly string[];
  okLabels: readonly string[];
}

/**
 * Items in flight at once. Decoding is CPU-bound but every blob write waits for an fsync
 * (~10 ms), so more items than cores keep the CPU busy; override with KENSA_IMPORT_CONCURRENCY.
 */
const CONCURRENCY = Math.max(1, Number(process.env.KENSA_IMPORT_CONCURRENCY) || 8);

/**
 * The CPU-heavy half of an import, run by the hub or by a `kensa worker` alike: lists the
 * archive, plans items with the format's importer, assigns group keys, decodes and checks every
 * item (images probed, masks rasterized and normalized) and stores the image and mask blobs of
 * good items through `putBlob` (content-addressed: a blob nobody references is harmless). A bad
 * item is reported in `failed`, never half-prepared. Nothing is written to the database.
 */
export async function prepareImport(args: {
  archivePath: string;
  /** the archive readers' defaults when omitted */
  archiveLimits?: ArchiveLimits;
  /** pixels of one image (limits.imagePixels); this process's budget when omitted */
  imagePixels?: number;
  project: ImportProject;
  importer: DatasetImporter;
  options: Omit<ImportOptions, "wait">;
  progress: ImportProgress;
  /** stores one blob (an image, a mask PNG) */
  putBlob: (bytes: Uint8Array) => Promise<unknown>;
  signal?: AbortSignal;
}): Promise<PreparedImport> {
  const { project, options, progress, putBlob } = args;
  const archive = await openArchive(args.archivePath, args.archiveLimits);
  try {
    const failed: ItemFailure[] = [];
    const root = options.root ? `${options.root.replace(/^\/+|\/+$/g, "")}/` : "";
    const usable = [];
    for (const e of archive.entries) {
      if (e.problem) {
        failed.push({ item: e.path, code: e.problem.code, message: e.problem.message });
        continue;
      }
      if (e.kind !== "file" || !e.path.startsWith(root)) continue;
      // hidden files and macOS resource forks are never dataset content
      if (/(^|\/)(\.|__MACOSX\/)/.test(e.path)) continue;
      usable.push({ ...e, path: e.path.slice(root.length) });
    }
    const plan = await args.importer.plan(usable, {
      options: options as ImportOptions,
      labels: project.labels,
      okLabels: project.okLabels,
    });
    failed.push(...plan.failed);
    const groupKeys = await assignGroupKeys(
      plan.items.map((i) => i.item),
      options.groupKey,
    );
    progress.total = plan.items.length;

    const classMap = parseClassMap(options.classMap);
    const known = new Set(project.labels);
    const prepared: Array<PreparedItem | null> = new Array(plan.items.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < plan.items.length) {
        args.signal?.throwIfAborted();
        const index = next++;
        const it = plan.items[index]!;
        try {
          prepared[index] = await prepare(it, groupKeys[index] ?? null);
        } catch (err) {
          const e = isKensaError(err) ? err : new KensaError("KENSA_ERR_INTERNAL", (err as Error).message);
          failed.push({ item: it.item, code: e.code, message: e.message });
        } finally {
          progress.done++;
        }
      }
    };

    const mapClass = (name: string, item: string, newClasses: string[]): string => {
      const to = classMap.get(name) ?? name;
      if (known.has(to)) return to;
      if (options.addClasses) {
        newClasses.push(to);
        return to;
      }
      throw new KensaError(
        "KENSA_ERR_DATASET_UNKNOWN_CLASS",
        `${item}: class "${name}"${to !== name ? ` (mapped to "${to}")` : ""} is not in project ${project.slug}'s labels [${project.labels.join(", ")}]; map it with classMap or allow addClasses`,
      );
    };

    async function prepare(it: PlannedItem, groupKey: string | null): Promise<PreparedItem> {
      const bytes = await it.image.read();
      let info: { format: "jpeg" | "png"; width: number; height: number };
      try {
        info = await probeImageWithin(bytes, args.imagePixels);
      } catch (err) {
        if (err instanceof KensaError && err.code === "KENSA_ERR_IMAGE_TOO_LARGE") throw err;
        throw new KensaError("KENSA_ERR_DATASET_IMAGE_INVALID", (err as Error).message);
      }
      let content: PreparedItem["content"] = null;
      const toWrite: Buffer[] = [];
      const newClasses: string[] = [];
      if (it.label) {
        const objects: LabelObject[] = [];
        for (const o of it.label.objects) {
          const obj = await resolveObject(o, info, it.item, toWrite, args.imagePixels);
          if (obj) objects.push({ ...obj, label: mapClass(o.label, it.item, newClasses) });
        }
        const classes = it.label.deriveClasses
          ? objects.map((o) => o.label)
          : it.label.classes.map((c) => mapClass(c, it.item, newClasses));
        content = { classes, objects, anomaly: anomalyOf(project, classes, objects) };
      }
      // blobs first: the transaction later only references what is already stored
      const sha256 = sha256Hex(bytes);
      await putBlob(bytes);
      for (const m of toWrite) await putBlob(m);
      return { item: it.item, sha256, ...info, groupKey, newClasses, content };
    }

    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    failed.sort((a, b) => (a.item < b.item ? -1 : a.item > b.item ? 1 : 0));
    return {
      items: prepared.filter((p): p is PreparedItem => p !== null),
      failed,
      ignored: plan.ignored,
      total: plan.items.length,
    };
  } finally {
    await archive.close();
  }
}

/** An anomaly project's label says whether any class or object is not OK; other projects' say null. */
export function anomalyOf(
  project: Pick<ImportProject, "task" | "okLabels">,
  classes: readonly string[],
  objects: readonly Pick<LabelObject, "label">[],
): boolean | null {
  if (project.task !== "anomaly") return null;
  return [...classes, ...objects.map((o) => o.label)].some((c) => !project.okLabels.includes(c));
}

/** A raw object in pixels with its mask as a canonical PNG (queued in `toWrite`); null if empty. */
async function resolveObject(
  o: RawObject,
  img: { width: number; height: number },
  item: string,
  toWrite: Buffer[],
  pixels: number | undefined,
): Promise<Omit<LabelObject, "label"> | null> {
  const out: Omit<LabelObject, "label"> = {};
  if (o.box) {
    const sx = o.box.normalized ? img.width : 1;
    const sy = o.box.normalized ? img.height : 1;
    // clamp what rounding pushed a hair outside; refuse what is really outside
    let x = o.box.x * sx;
    let y = o.box.y * sy;
    let x1 = x + o.box.w * sx;
    let y1 = y + o.box.h * sy;
    if (x < -1 || y < -1 || x1 > img.width + 1 || y1 > img.height + 1) {
      throw annotation(
        `${item}: box of "${o.label}" (${fmt(x, y, x1, y1)}) leaves the ${img.width}×${img.height} image`,
      );
    }
    x = Math.max(0, x);
    y = Math.max(0, y);
    x1 = Math.min(img.width, x1);
    y1 = Math.min(img.height, y1);
    if (x1 - x <= 0 || y1 - y <= 0) throw annotation(`${item}: box of "${o.label}" is empty`);
    out.box = { x, y, w: x1 - x, h: y1 - y };
  }
  if (o.mask) {
    const m = await maskOf(o.mask, img, item, pixels);
    if (!isEmpty(m)) {
      const png = await encodeMask(m);
      toWrite.push(png);
      out.mask = sha256Hex(png);
    }
  }
  return out.box || out.mask ? out : null;
}

async function maskOf(
  mask: RawMask,
  img: { width: number; height: number },
  item: string,
  pixels: number | undefined,
): Promise<BinaryMask> {
  let m: BinaryMask;
  if (mask.type === "png") m = await decodeMask(await mask.entry.read(), undefined, pixels);
  else if (mask.type === "rle") {
    // the declared size is checked before it is allocated: the image is within limits.imagePixels
    const [h, w] = mask.rle.size;
    if (w !== img.width || h !== img.height)
      throw annotation(`${item}: the mask is ${w}×${h}, the image ${img.width}×${img.height}`);
    try {
      m = rleDecode(mask.rle, img);
    } catch (err) {
      throw annotation(`${item}: ${(err as Error).message}`);
    }
  } else {
    const polys = mask.normalized
      ? mask.polygons.map((p) => p.map((v, i) => v * (i % 2 === 0 ? img.width : img.height)))
      : mask.polygons;
    m = rasterizePolygons(polys, img.width, img.height);
  }
  if (m.width !== img.width || m.height !== img.height) {
    throw annotation(`${item}: the mask is ${m.width}×${m.height}, the image ${img.width}×${img.height}`);
  }
  return m;
}

function annotation(message: string, code: ErrorCode = "KENSA_ERR_DATASET_ANNOTATION_INVALID"): KensaError {
  return new KensaError(code, message);
}

function fmt(...v: number[]): string {
  return v.map((n) => Math.round(n * 100) / 100).join(", ");
}

/** `a=b,c=d` → Map; already validated by the route. */
export function parseClassMap(s: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of (s ?? "").split(",")) {
    if (!pair.trim()) continue;
    const eq = pair.indexOf("=");
    if (eq <= 0 || eq === pair.length - 1) {
      throw new KensaError("KENSA_ERR_VALIDATION", `classMap: "${pair}" is not from=to`, {
        issues: [{ path: "/classMap", message: `"${pair}" is not from=to` }],
      });
    }
    out.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return out;
}
