// Projects, the devices in them, what is deployed to them and each device's latest frame.

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
  /** ISO time the device's credentials were revoked; null while active */
  revoked_at: string | null;
  /** its account on a managed broker: null (in sync, or no managed broker), "pending", "needs_rotation" */
  broker_account: string | null;
  presence: string;
  last_seen_at: string | null;
  reported: string | null;
  telemetry: string | null;
  desired: string | null;
  desired_rev: number;
  created_at: string;
  /** events stored from this device (new ones, not replays) */
  events_stored: number;
  /** the highest event seq stored from this device */
  events_max_seq: number;
  // optional: a row inserted without them is active and undescribed (null)
  /** ISO time the device was retired (implies revoked_at); null while in service */
  retired_at?: string | null;
  /** ISO time the device was deleted: the row is a tombstone, hidden from every list and lookup */
  deleted_at?: string | null;
  /** what people wrote about the device; null when nothing */
  description?: string | null;
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
  /** the precision asked for (auto, fp32, int8); null for deployments made before targets (auto) */
  precision?: string | null;
  /** `bundle` (what the pipeline runs) or `shadow` (run beside it); null before shadows (bundle) */
  role?: string | null;
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
