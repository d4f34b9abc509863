import {
  type ErrorCode,
  type ImportOptions,
  type ImportResult,
  type ItemFailure,
  isKensaError,
  KensaError,
  type LabelObject,
  sha256Hex,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubDatabase, LabelRevisionsTable, SamplesTable } from "../db/schema.js";
import { probeImageWithin } from "../limits/image-gate.js";
import type { ProjectRecord } from "../projects/project-service.js";
import type { ArchiveLimits } from "./archive/archive-entry.js";
import { openArchive } from "./archive/open-archive.js";
import { rleDecode } from "./formats/coco-rle.js";
import type { DatasetImporter, PlannedItem, RawMask, RawObject } from "./formats/dataset-format.js";
import { assignGroupKeys } from "./group-key.js";
import { type BinaryMask, decodeMask, encodeMask, isEmpty, rasterizePolygons } from "./masks.js";
import { INSERT_CHUNK, revisionRow, sampleRow } from "./sample-rows.js";

export interface ImportProgress {
  done: number;
  total: number;
}

interface Prepared {
  index: number;
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

/**
 * Items in flight at once. Decoding is CPU-bound but every blob write waits for an fsync
 * (~10 ms), so more items than cores keep the CPU busy; override with KENSA_IMPORT_CONCURRENCY.
 */
const CONCURRENCY = Math.max(1, Number(process.env.KENSA_IMPORT_CONCURRENCY) || 8);

/**
 * Runs one import: lists the archive, plans items with the format's importer, decodes and
 * checks every item, writes image and mask blobs, then commits every good item in ONE
 * transaction. Blobs written for items that end up unreferenced are harmless (content-
 * addressed, never listed). A bad item is skipped and reported, never half-written; with
 * `strict`, any bad item aborts the import before the transaction.
 */
export async function runImport(args: {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  project: ProjectRecord;
  importer: DatasetImporter;
  options: ImportOptions;
  importId: string;
  archivePath: string;
  /** the archive readers' defaults when omitted */
  archiveLimits?: ArchiveLimits;
  progress: ImportProgress;
  /** filled in as phases end, for the log */
  timings: { prepareMs?: number; commitMs?: number };
}): Promise<ImportResult> {
  const { db, blobs, project, options, progress } = args;
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
    const plan = await args.importer.plan(usable, { options, labels: project.labels, okLabels: project.okLabels });
    failed.push(...plan.failed);
    const groupKeys = await assignGroupKeys(
      plan.items.map((i) => i.item),
      options.groupKey,
    );
    progress.total = plan.items.length;

    const classMap = parseClassMap(options.classMap);
    const known = new Set(project.labels);
    const prepared: Array<Prepared | null> = new Array(plan.items.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < plan.items.length) {
        const index = next++;
        const it = plan.items[index]!;
        try {
          prepared[index] = await prepare(it, index, groupKeys[index] ?? null);
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

    async function prepare(it: PlannedItem, index: number, groupKey: string | null): Promise<Prepared> {
      const bytes = await it.image.read();
      let info: { format: "jpeg" | "png"; width: number; height: number };
      try {
        info = await probeImageWithin(bytes);
      } catch (err) {
        if (err instanceof KensaError && err.code === "KENSA_ERR_IMAGE_TOO_LARGE") throw err;
        throw new KensaError("KENSA_ERR_DATASET_IMAGE_INVALID", (err as Error).message);
      }
      let content: Prepared["content"] = null;
      const toWrite: Buffer[] = [];
      const newClasses: string[] = [];
      if (it.label) {
        const objects: LabelObject[] = [];
        for (const o of it.label.objects) {
          const obj = await resolveObject(o, info, it.item, toWrite);
          if (obj) objects.push({ ...obj, label: mapClass(o.label, it.item, newClasses) });
        }
        const classes = it.label.deriveClasses
          ? objects.map((o) => o.label)
          : it.label.classes.map((c) => mapClass(c, it.item, newClasses));
        const anomaly =
          project.task === "anomaly"
            ? [...classes, ...objects.map((o) => o.label)].some((c) => !project.okLabels.includes(c))
            : null;
        content = { classes, objects, anomaly };
      }
      // blobs first: the transaction later only references what is already stored
      const { sha256 } = await blobs.put(bytes);
      for (const m of toWrite) await blobs.put(m);
      return { index, item: it.item, sha256, ...info, groupKey, newClasses, content };
    }

    const t0 = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    args.timings.prepareMs = Date.now() - t0;

    // Duplicates are decided in archive order, after all decoding, so results do not depend
    // on which worker finished first.
    const duplicates: ImportResult["duplicates"] = [];
    const good = prepared.filter((p): p is Prepared => p !== null);
    const existing = await existingImages(
      db,
      project.id,
      good.map((g) => g.sha256),
    );
    const seen = new Map<string, string>();
    const fresh: Prepared[] = [];
    for (const p of good) {
      const of = existing.get(p.sha256) ?? seen.get(p.sha256);
      if (of) {
        duplicates.push({ item: p.item, sha256: p.sha256, of });
        continue;
      }
      seen.set(p.sha256, p.item);
      fresh.push(p);
    }
    failed.sort((a, b) => (a.item < b.item ? -1 : a.item > b.item ? 1 : 0));
    if (options.strict && failed.length > 0) {
      throw new KensaError(
        "KENSA_ERR_DATASET_IMPORT_ABORTED",
        `${failed.length} item(s) failed and the import is strict; nothing was imported`,
        { failed },
      );
    }

    // classes added in archive order, only for items that are really imported
    const added = [...new Set(fresh.flatMap((p) => p.newClasses))];
    const now = isoNow();
    const samples: SamplesTable[] = [];
    const revisions: LabelRevisionsTable[] = [];
    for (const p of fresh) {
      const s = sampleRow({
        project_id: project.id,
        source: "import",
        created_at: now,
        image_sha256: p.sha256,
        image_format: p.format,
        width: p.width,
        height: p.height,
        import_id: args.importId,
        item: p.item,
        group_key: p.groupKey,
      });
      if (p.content) {
        const r = revisionRow({
          sampleId: s.id,
          rev: 1,
          content: p.content,
          status: "labeled",
          by: options.by,
          source: "import",
          importId: args.importId,
          createdAt: now,
        });
        s.current_revision_id = r.id;
        s.label_status = "labeled";
        revisions.push(r);
      }
      samples.push(s);
    }
    const t1 = Date.now();
    await db.transaction().execute(async (trx) => {
      if (added.length > 0) {
        // re-read inside the transaction: another writer may have changed the labels since
        const row = await trx
          .selectFrom("projects")
          .select("labels")
          .where("id", "=", project.id)
          .executeTakeFirstOrThrow();
        const labels = JSON.parse(row.labels) as string[];
        for (const a of added) if (!labels.includes(a)) labels.push(a);
        await trx
          .updateTable("projects")
          .set({ labels: JSON.stringify(labels) })
          .where("id", "=", project.id)
          .execute();
      }
      for (let i = 0; i < samples.length; i += INSERT_CHUNK) {
        await trx
          .insertInto("samples")
          .values(samples.slice(i, i + INSERT_CHUNK))
          .execute();
      }
      for (let i = 0; i < revisions.length; i += INSERT_CHUNK) {
        await trx
          .insertInto("label_revisions")
          .values(revisions.slice(i, i + INSERT_CHUNK))
          .execute();
      }
    });
    args.timings.commitMs = Date.now() - t1;
    return {
      ok: samples.length,
      failed,
      duplicates,
      ignored: plan.ignored,
      addedClasses: added,
      unlabeled: fresh.filter((p) => !p.content).length,
    };
  } finally {
    await archive.close();
  }
}

/** A raw object in pixels with its mask as a canonical PNG (queued in `toWrite`); null if empty. */
async function resolveObject(
  o: RawObject,
  img: { width: number; height: number },
  item: string,
  toWrite: Buffer[],
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
    const m = await maskOf(o.mask, img, item);
    if (!isEmpty(m)) {
      const png = await encodeMask(m);
      toWrite.push(png);
      out.mask = sha256Hex(png);
    }
  }
  return out.box || out.mask ? out : null;
}

async function maskOf(mask: RawMask, img: { width: number; height: number }, item: string): Promise<BinaryMask> {
  let m: BinaryMask;
  if (mask.type === "png") m = await decodeMask(await mask.entry.read());
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

async function existingImages(
  db: Kysely<HubDatabase>,
  projectId: string,
  shas: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const unique = [...new Set(shas)];
  for (let i = 0; i < unique.length; i += 500) {
    const rows = await db
      .selectFrom("samples")
      .select(["id", "image_sha256"])
      .where("project_id", "=", projectId)
      .where("image_sha256", "in", unique.slice(i, i + 500))
      .execute();
    for (const r of rows) if (r.image_sha256 && !out.has(r.image_sha256)) out.set(r.image_sha256, r.id);
  }
  return out;
}
