/** days of incidents and verdicts the field figures cover (`/metrics` and what a site sends central) */
export const FIELD_WINDOW_DAYS = 7;
