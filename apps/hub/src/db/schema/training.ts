// The job queue, training runs and each project's training settings.

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
  /** while running: when the worker's claim runs out unless renewed (null: claimed before leases) */
  lease_until: string | null;
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

export interface TrainingSettingsTable {
  project_id: string;
  settings: string;
  champion_id: string | null;
  champion_since: string | null;
  /** the last minute the cron trigger was checked up to, so a restart neither skips nor repeats */
  cron_checked_at: string | null;
  updated_at: string;
}
