import { type Static, Type } from "@sinclair/typebox";

const strict = { additionalProperties: false } as const;

const DefaultLimit = (maxAgeDays: number | null) =>
  Type.Object(
    {
      /** days; null keeps items of this kind for any age */
      maxAgeDays: Type.Union([Type.Integer({ minimum: 1, maximum: 36_500 }), Type.Null()], { default: maxAgeDays }),
      /** bytes per project; null sets no size budget */
      maxBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { default: null }),
    },
    { ...strict, default: {} },
  );

/**
 * `retention` in the hub config: whether and how often the hub applies retention, how hard it
 * may press on the database, and the limits of every project that sets none of its own. On by
 * default with age limits only (frames and clips 90 days, captures awaiting a label 180 days,
 * events 365 days): media is what fills a hub's disk, and nothing under an open incident, a
 * legal hold or a dataset snapshot is ever deleted. `enabled: false` turns the schedule off (a
 * run an admin requests still applies the limits).
 */
export const RetentionConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /** minutes between runs (the first runs this long after the hub starts) */
    everyMinutes: Type.Number({ minimum: 0.001, maximum: 10_080, default: 60 }),
    /** rows deleted per transaction: short transactions let ingest commit between them */
    batchSize: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
    /** ms of pause between two batches */
    pauseMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 20 }),
    defaults: Type.Object(
      {
        events: DefaultLimit(365),
        frames: DefaultLimit(90),
        clips: DefaultLimit(90),
        captures: DefaultLimit(180),
      },
      { ...strict, default: {} },
    ),
  },
  { ...strict, default: {} },
);
export type RetentionConfig = Static<typeof RetentionConfigSchema>;
