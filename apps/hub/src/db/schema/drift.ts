// Drift (migration 0027).

/**
 * A project's champion went over its drift threshold (training settings `triggers.drift`):
 * kept once per champion and window, with the retraining it started.
 */
export interface DriftAlertsTable {
  id: string;
  project_id: string;
  model_version_id: string;
  /** luma, contrast or score: the statistic over the threshold (the largest, for `any`) */
  statistic: string;
  psi: number;
  threshold: number;
  window_hours: number;
  /** the run the alert started; null while none could start (a run busy, data not ready) */
  run_id: string | null;
  created_at: string;
}

declare module "./incidents.js" {
  /**
   * The columns migration 0027 adds to `events`, filled at ingest (incidents/event-ingest.ts);
   * null for events stored before it, from agents without input statistics, and for frames
   * without a headline (nothing detected).
   */
  interface EventsTable {
    /** `Event.input.luma`, 0…1 */
    input_luma: number | null;
    /** `Event.input.contrast`, 0…1 */
    input_contrast: number | null;
    /** headlineOf(result): the label that stands for the frame */
    headline_label: string | null;
    headline_score: number | null;
  }
}
