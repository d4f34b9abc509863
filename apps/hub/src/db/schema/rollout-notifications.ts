// Rollout alerts to people and webhooks (migration 0026), sent like incident notifications.

export interface RolloutNotificationsTable {
  id: string;
  rollout_id: string;
  project_id: string;
  /** paused, rolled_back, completed or aborted */
  kind: string;
  /** JSON RolloutNotice: what the message says, as it was at the transition */
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
