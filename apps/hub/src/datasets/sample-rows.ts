import type { LabelContent, LabelRevision, LabelStatus, Sample, SampleSource } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { HubDatabase, LabelRevisionsTable, SamplesTable } from "../db/schema.js";
import { newDatasetId } from "./dataset-ids.js";
import { canonicalLabel, labelSha256 } from "./label-content.js";

export type SampleRow = Selectable<SamplesTable>;
export type RevisionRow = Selectable<LabelRevisionsTable>;

/** Rows per multi-row INSERT: far below SQLite's and PostgreSQL's bound-parameter limits. */
export const INSERT_CHUNK = 100;

export function toRevision(r: RevisionRow): LabelRevision {
  return {
    id: r.id,
    sampleId: r.sample_id,
    rev: Number(r.rev),
    sha256: r.content_sha256,
    content: JSON.parse(r.content) as LabelContent,
    status: r.status as LabelRevision["status"],
    by: r.labeled_by,
    source: r.source as LabelRevision["source"],
    verdictId: r.verdict_id,
    importId: r.import_id,
    createdAt: r.created_at,
  };
}

export function toSample(r: SampleRow, current: RevisionRow | null): Sample {
  return {
    id: r.id,
    projectId: r.project_id,
    image:
      r.image_sha256 && r.image_format
        ? {
            sha256: r.image_sha256,
            format: r.image_format as "jpeg" | "png",
            width: Number(r.width),
            height: Number(r.height),
          }
        : null,
    provenance: {
      source: r.source as SampleSource,
      deviceId: r.device_id,
      incidentId: r.incident_id,
      eventId: r.event_id,
      reason: r.reason,
      capturedAt: r.captured_at,
      importId: r.import_id,
      item: r.item,
      prediction: r.prediction ? (JSON.parse(r.prediction) as { label: string; score: number }) : null,
    },
    groupKey: r.group_key,
    status: r.label_status as LabelStatus,
    label: current ? toRevision(current) : null,
    createdAt: r.created_at,
  };
}

/** The current revisions of these samples, by sample id. */
export async function currentRevisions(db: Kysely<HubDatabase>, rows: SampleRow[]): Promise<Map<string, RevisionRow>> {
  const ids = rows.map((r) => r.current_revision_id).filter((id): id is string => !!id);
  const out = new Map<string, RevisionRow>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const revs = await db.selectFrom("label_revisions").selectAll().where("id", "in", chunk).execute();
    for (const r of revs) out.set(r.sample_id, r);
  }
  return out;
}

export async function toSamples(db: Kysely<HubDatabase>, rows: SampleRow[]): Promise<Sample[]> {
  const revs = await currentRevisions(db, rows);
  return rows.map((r) => toSample(r, revs.get(r.id) ?? null));
}

/** A new sample row with defaults for everything provenance does not say. */
export function sampleRow(
  fields: Partial<SamplesTable> & Pick<SamplesTable, "project_id" | "source" | "created_at">,
): SamplesTable {
  return {
    id: newDatasetId("smp"),
    image_sha256: null,
    image_format: null,
    width: null,
    height: null,
    device_id: null,
    incident_id: null,
    event_id: null,
    reason: null,
    captured_at: null,
    import_id: null,
    item: null,
    prediction: null,
    group_key: null,
    external_key: null,
    current_revision_id: null,
    label_status: "unlabeled",
    ...fields,
  };
}

/** A new immutable label revision row; the content is canonicalized and hashed here. */
export function revisionRow(fields: {
  sampleId: string;
  rev: number;
  content: Partial<LabelContent>;
  status: "labeled" | "reviewed";
  by: string;
  source: LabelRevision["source"];
  verdictId?: string | null;
  importId?: string | null;
  createdAt: string;
}): LabelRevisionsTable {
  const content = canonicalLabel(fields.content);
  return {
    id: newDatasetId("lrv"),
    sample_id: fields.sampleId,
    rev: fields.rev,
    content: JSON.stringify(content),
    content_sha256: labelSha256(content),
    status: fields.status,
    labeled_by: fields.by,
    source: fields.source,
    verdict_id: fields.verdictId ?? null,
    import_id: fields.importId ?? null,
    created_at: fields.createdAt,
  };
}

/** Appends a revision and moves the sample's pointer to it, in the caller's transaction. */
export async function appendRevision(
  trx: Kysely<HubDatabase>,
  sampleId: string,
  make: (rev: number) => LabelRevisionsTable,
): Promise<LabelRevisionsTable> {
  const last = await trx
    .selectFrom("label_revisions")
    .select((eb) => eb.fn.max("rev").as("rev"))
    .where("sample_id", "=", sampleId)
    .executeTakeFirst();
  const row = make(Number(last?.rev ?? 0) + 1);
  await trx.insertInto("label_revisions").values(row).execute();
  await trx
    .updateTable("samples")
    .set({ current_revision_id: row.id, label_status: row.status })
    .where("id", "=", sampleId)
    .execute();
  return row;
}
