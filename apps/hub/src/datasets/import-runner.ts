import type { ImportOptions, ImportResult } from "@kensa/contracts";
import { KensaError } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubDatabase, LabelRevisionsTable, SamplesTable } from "../db/schema.js";
import type { ProjectRecord } from "../projects/project-service.js";
import type { ArchiveLimits } from "./archive/archive-entry.js";
import type { DatasetImporter } from "./formats/dataset-format.js";
import { type ImportProgress, type PreparedImport, type PreparedItem, prepareImport } from "./import-prepare.js";
import { INSERT_CHUNK, revisionRow, sampleRow } from "./sample-rows.js";

export { type ImportProgress, parseClassMap } from "./import-prepare.js";

/**
 * Runs one import on the hub: the prepare phase (import-prepare.ts: list, plan, decode, check,
 * store blobs), then every good item committed in ONE transaction (commitImport). A bad item is
 * skipped and reported, never half-written; with `strict`, any bad item aborts the import before
 * anything is committed.
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
  const { blobs } = args;
  const t0 = Date.now();
  const prepared = await prepareImport({
    archivePath: args.archivePath,
    ...(args.archiveLimits ? { archiveLimits: args.archiveLimits } : {}),
    project: args.project,
    importer: args.importer,
    options: args.options,
    progress: args.progress,
    putBlob: (bytes) => blobs.put(bytes),
  });
  args.timings.prepareMs = Date.now() - t0;
  const t1 = Date.now();
  const result = await args.db.transaction().execute((trx) => commitImport(trx, { ...args, prepared }));
  args.timings.commitMs = Date.now() - t1;
  return result;
}

/**
 * The commit half of an import, wherever it was prepared: decides duplicates (images already in
 * the project, or earlier in the archive, in archive order), refuses a strict import with
 * failures (KENSA_ERR_DATASET_IMPORT_ABORTED, before any write), adds the classes of imported
 * items (addClasses) and inserts every sample and label revision. Run it inside the caller's
 * transaction, so the import commits as one.
 */
export async function commitImport(
  trx: Kysely<HubDatabase>,
  args: {
    project: Pick<ProjectRecord, "id">;
    options: Pick<ImportOptions, "strict" | "by">;
    importId: string;
    prepared: PreparedImport;
  },
): Promise<ImportResult> {
  const { project, options, importId, prepared } = args;
  // Duplicates are decided in archive order, after all decoding, so results do not depend
  // on which worker finished first.
  const duplicates: ImportResult["duplicates"] = [];
  const good = prepared.items;
  const failed = prepared.failed;
  const existing = await existingImages(
    trx,
    project.id,
    good.map((g) => g.sha256),
  );
  const seen = new Map<string, string>();
  const fresh: PreparedItem[] = [];
  for (const p of good) {
    const of = existing.get(p.sha256) ?? seen.get(p.sha256);
    if (of) {
      duplicates.push({ item: p.item, sha256: p.sha256, of });
      continue;
    }
    seen.set(p.sha256, p.item);
    fresh.push(p);
  }
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
      import_id: importId,
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
        importId,
        createdAt: now,
      });
      s.current_revision_id = r.id;
      s.label_status = "labeled";
      revisions.push(r);
    }
    samples.push(s);
  }
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
  return {
    ok: samples.length,
    failed,
    duplicates,
    ignored: prepared.ignored,
    addedClasses: added,
    unlabeled: fresh.filter((p) => !p.content).length,
  };
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
