// Backtests of candidate models on archived frames (apps/hub/src/backtest).

export interface BacktestsTable {
  id: string;
  project_id: string;
  model_version_id: string;
  /** queued | running | succeeded | failed */
  status: string;
  /** JSON: the resolved window and options (since, until, limit, deviceIds, captures) */
  request: string;
  job_id: string | null;
  created_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** JSON { code, message } once failed */
  error: string | null;
  /** JSON BacktestReport once succeeded */
  report: string | null;
  /** JSON BacktestFrame[] once succeeded */
  frames: string | null;
}
