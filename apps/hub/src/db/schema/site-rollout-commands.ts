// Commands to site rollouts (migration 0034).

/** On a central hub: a pause, resume or rollback sent to a site rollout, and the site's answer. */
export interface SiteRolloutCommandsTable {
  id: string;
  site_id: string;
  site_rollout_id: string;
  /** pause | resume | rollback */
  action: string;
  reason: string | null;
  created_by: string;
  created_at: string;
  /** pending | applied | refused */
  state: string;
  /** the site's rollout state after its answer */
  rollout_state: string | null;
  /** JSON { code, message } when the site refused it */
  error: string | null;
  /** the site's time of its answer */
  answered_at: string | null;
}

/** On a site hub: what the site did with a command from central (one row per command). */
export interface FederationRolloutCommandsTable {
  command_id: string;
  central_rollout_id: string;
  /** applied | refused */
  outcome: string;
  rollout_state: string | null;
  error: string | null;
  answered_at: string;
}
