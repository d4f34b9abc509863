// Site rollouts (migration 0030).

/** On a central hub: a staged rollout asked of a site, and the state the site last reported. */
export interface SiteRolloutsTable {
  id: string;
  site_id: string;
  project_id: string;
  /** central's model version */
  model_version_id: string;
  /** JSON: pipeline, target, strategy, gates, precision as asked */
  request: string;
  created_by: string;
  created_at: string;
  /** `requested` until the site reports; then the site's rollout state, or `failed` */
  state: string;
  /** JSON: the site's latest SiteRolloutReport */
  report: string | null;
  /** the site's time of that report */
  reported_at: string | null;
  received_at: string | null;
}

/** On a site hub: the local rollout created for a central site rollout, or why none was. */
export interface FederationRolloutsTable {
  central_rollout_id: string;
  rollout_id: string | null;
  /** JSON { code, message } when the site refused it */
  error: string | null;
  created_at: string;
}
