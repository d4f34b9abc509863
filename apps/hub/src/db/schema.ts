/**
 * Row shapes of the metadata store. Dialect-neutral on purpose: JSON is stored as text, times
 * as ISO-8601 text (which sorts correctly as text), booleans as 0/1 integers.
 */
export interface ProjectsTable {
  id: string;
  slug: string;
  name: string;
  task: string;
  labels: string;
  ok_labels: string;
  rule: string;
  /** includes webhook secrets; never serialized to a reply as is */
  notifications: string;
  created_at: string;
}

export interface DevicesTable {
  id: string;
  name: string;
  project_id: string;
  arch: string | null;
  tags: string;
  secret_hash: string;
  secret_salt: string;
  presence: string;
  last_seen_at: string | null;
  reported: string | null;
  telemetry: string | null;
  desired: string | null;
  desired_rev: number;
  created_at: string;
}

export interface ModelVersionsTable {
  id: string;
  project_id: string;
  version: number;
  name: string;
  sha256: string;
  size: number;
  stage: string;
  manifest: string;
  source: string;
  created_at: string;
  /** lineage (migration 0003): null for uploads */
  run_id: string | null;
  snapshot_id: string | null;
  lineage: string | null;
  int8_sha256: string | null;
}

export interface BundlesTable {
  sha256: string;
  project_id: string;
  model_version_id: string;
  size: number;
  created_at: string;
}

export interface DeploymentsTable {
  id: string;
  project_id: string;
  model_version_id: string;
  bundle_sha256: string;
  pipeline: string;
  target: string;
  device_ids: string;
  created_at: string;
}

export interface EventsTable {
  id: string;
  seq: number;
  device_id: string;
  project_id: string;
  pipeline: string;
  source_id: string;
  ts: string;
  received_at: string;
  model_version_id: string;
  bundle_sha256: string;
  result: string;
  frame_meta: string;
  frame_width: number;
  frame_height: number;
  latency: string;
  media_expected: number;
  media_sha256: string | null;
}

/** Media that may arrive before its event: keyed by event id and uploading device, joined later. */
export interface EventMediaTable {
  event_id: string;
  device_id: string;
  sha256: string;
  content_type: string;
  size: number;
  created_at: string;
}

/** An incident clip (video around the incident frame) from the device, keyed like media. */
export interface EventClipsTable {
  event_id: string;
  device_id: string;
  sha256: string;
  content_type: string;
  size: number;
  duration_ms: number | null;
  frames: number | null;
  created_at: string;
}

export interface IncidentsTable {
  id: string;
  project_id: string;
  device_id: string;
  event_id: string;
  status: string;
  label: string;
  score: number;
  rule: string;
  model_version_id: string;
  bundle_sha256: string;
  frame_meta: string;
  media_sha256: string | null;
  created_at: string;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  clip_sha256: string | null;
  clip_content_type: string | null;
  clip_size: number | null;
  clip_duration_ms: number | null;
}

export interface VerdictsTable {
  id: string;
  incident_id: string;
  verdict: string;
  labels: string;
  note: string | null;
  decided_by: string;
  created_at: string;
}

export interface NotificationsTable {
  id: string;
  incident_id: string;
  project_id: string;
  channel: string;
  target: string;
  status: string;
  attempts: number;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  sent_at: string | null;
}

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

/** The persistent job queue: claimed by flipping status queued → running in one UPDATE. */
export interface JobsTable {
  id: string;
  type: string;
  project_id: string;
  ref_id: string;
  payload: string;
  status: string;
  attempts: number;
  claimed_by: string | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface TrainingRunsTable {
  id: string;
  project_id: string;
  snapshot_id: string;
  status: string;
  trigger_type: string;
  trigger_detail: string;
  params: string;
  trainer_name: string;
  trainer_version: string | null;
  code_revision: string;
  progress: string | null;
  data: string | null;
  trainer_metrics: string | null;
  error: string | null;
  exit_code: number | null;
  model_version_id: string | null;
  log_sha256: string | null;
  created_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface EvaluationsTable {
  id: string;
  project_id: string;
  model_version_id: string;
  snapshot_id: string;
  status: string;
  metrics: string | null;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface GateReportsTable {
  id: string;
  project_id: string;
  model_version_id: string;
  champion_id: string | null;
  snapshot_id: string;
  criteria: string;
  results: string;
  decision: string;
  reason: string;
  deployment_id: string | null;
  created_at: string;
}

export interface ApprovalsTable {
  id: string;
  model_version_id: string;
  action: string;
  decided_by: string;
  reason: string;
  from_stage: string;
  to_stage: string;
  created_at: string;
}

export interface TrainingSettingsTable {
  project_id: string;
  settings: string;
  champion_id: string | null;
  champion_since: string | null;
  /** the last minute the cron trigger was checked up to, so a restart neither skips nor repeats */
  cron_checked_at: string | null;
  updated_at: string;
}

export interface UsersTable {
  id: string;
  /** lower-case, unique */
  username: string;
  display_name: string;
  role: string;
  /** `scrypt$N$r$p$salt$key` (base64url salt and key) */
  password_hash: string;
  disabled: number;
  created_at: string;
}

/** Keyed by sha256 of the cookie's token; the token itself is never stored. */
export interface SessionsTable {
  token_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  last_seen_at: string;
  ip: string | null;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  /** sha256 of the token, hex */
  token_hash: string;
  created_at: string;
  last_used_at: string | null;
}

/** Append-only: rows are inserted, never updated or deleted. */
export interface AuditLogTable {
  id: string;
  at: string;
  actor: string;
  actor_kind: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: string;
  ip: string | null;
}

/** The latest frame a device uploaded; one row per device, overwritten. */
export interface DeviceFramesTable {
  device_id: string;
  content_type: string;
  sha256: string;
  size: number;
  bytes: Uint8Array;
  received_at: string;
}

export interface HubDatabase {
  projects: ProjectsTable;
  devices: DevicesTable;
  model_versions: ModelVersionsTable;
  bundles: BundlesTable;
  deployments: DeploymentsTable;
  events: EventsTable;
  event_media: EventMediaTable;
  event_clips: EventClipsTable;
  incidents: IncidentsTable;
  verdicts: VerdictsTable;
  notifications: NotificationsTable;
  samples: SamplesTable;
  label_revisions: LabelRevisionsTable;
  snapshots: SnapshotsTable;
  dataset_imports: DatasetImportsTable;
  jobs: JobsTable;
  training_runs: TrainingRunsTable;
  evaluations: EvaluationsTable;
  gate_reports: GateReportsTable;
  approvals: ApprovalsTable;
  training_settings: TrainingSettingsTable;
  users: UsersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  device_frames: DeviceFramesTable;
}
