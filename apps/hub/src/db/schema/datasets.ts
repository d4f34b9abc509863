// Dataset samples, their label revisions, snapshots and imports.

/** A dataset sample: an image (null until a verdict's media arrives) with provenance. */
export interface SamplesTable {
  id: string;
  project_id: string;
  image_sha256: string | null;
  image_format: string | null;
  width: number | null;
  height: number | null;
  source: string;
  device_id: string | null;
  incident_id: string | null;
  event_id: string | null;
  reason: string | null;
  captured_at: string | null;
  import_id: string | null;
  item: string | null;
  prediction: string | null;
  group_key: string | null;
  /** migration 0033: the golden reference (project_references.key) it is compared with; null = the default */
  reference_key?: string | null;
  /** `incident:<id>` or `capture:<device>:<id>`: makes verdicts and capture retries idempotent */
  external_key: string | null;
  current_revision_id: string | null;
  label_status: string;
  created_at: string;
}

/** Immutable: a relabel inserts a new row and moves the sample's pointer. */
export interface LabelRevisionsTable {
  id: string;
  sample_id: string;
  rev: number;
  content: string;
  content_sha256: string;
  status: string;
  labeled_by: string;
  source: string;
  verdict_id: string | null;
  import_id: string | null;
  created_at: string;
}

/** id = sha256 of the manifest blob; rows are never updated. */
export interface SnapshotsTable {
  id: string;
  project_id: string;
  name: string | null;
  params: string;
  sample_count: number;
  stats: string;
  excluded: string;
  created_by: string;
  created_at: string;
}

export interface DatasetImportsTable {
  id: string;
  project_id: string;
  format: string;
  options: string;
  status: string;
  total: number;
  result: string | null;
  error: string | null;
  archive_bytes: number;
  created_by: string;
  created_at: string;
  finished_at: string | null;
}
