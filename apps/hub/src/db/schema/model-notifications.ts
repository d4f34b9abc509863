// Alerts about a model version in the field (migration 0028), sent like incident notifications.

export interface ModelNotificationsTable {
  id: string;
  model_version_id: string;
  project_id: string;
  /** drift */
  kind: string;
  /** JSON DriftNotice: what the message says, as it was when the drift was found */
  alert: string;
  channel: string;
  target: string;
  /** pending, sent, failed or suppressed */
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
