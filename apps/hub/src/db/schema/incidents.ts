// Events from devices, their media and clips, the incidents they raise, verdicts and notifications.

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
  /** while pending: when it is due, or when the replica sending it loses its claim */
  next_attempt_at: string | null;
  created_at: string;
  sent_at: string | null;
  /** the replica that last claimed it for sending */
  claimed_by: string | null;
}

/** An event the hub refused for good, kept with its payload and reason (never silently lost). */
export interface RejectedEventsTable {
  device_id: string;
  seq: number;
  event_id: string | null;
  code: string;
  reason: string;
  payload: string;
  received_at: string;
}
