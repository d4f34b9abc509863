// Shadow agreement (migration 0024).

/**
 * One device pipeline's agreement counters for one pair (champion = the bundle, challenger = the
 * shadow) and one counting session (`started_at`: the agent restarts its counters when either
 * model changes or it restarts). The latest cumulative figures of the session replace the row's.
 */
export interface ShadowAgreementTable {
  device_id: string;
  pipeline: string;
  champion_model_version_id: string;
  challenger_model_version_id: string;
  /** the agent's `since`, ISO-8601 */
  started_at: string;
  champion_sha256: string;
  challenger_sha256: string;
  frames: number;
  agree: number;
  captures: number;
  score_delta_mean: number;
  score_delta_p95: number;
  iou_mean: number | null;
  iou_n: number | null;
  /** JSON: { [label]: { frames, agree } } */
  by_label: string;
  /** the agent's time of the report the figures come from */
  reported_at: string;
  /** the hub's time it stored them */
  updated_at: string;
}
