import { type Static, Type } from "@sinclair/typebox";
import { nullable as Nullable, Timestamp as Ts } from "../common.js";
import { LabelContent, LabelRevisionSource } from "../datasets/samples.js";
import { Sha256 } from "../manifest.js";

/*
 * What a site hub pushes for central's datasets and its field review (docs/operations.md,
 * "Multi-site"): its labelled samples, each with its current label revision, and a periodic
 * summary of its field figures per project and model version.
 */

/** A labelled sample as the site pushes it: the site's own ids, its project by slug. */
export const SiteSample = Type.Object(
  {
    /** the site's sample id: central keeps one sample per (site, id) */
    id: Type.String({ minLength: 1, maxLength: 200 }),
    projectSlug: Type.String(),
    /** uploaded before the sample (the frames route), like an incident's frame */
    image: Type.Object(
      {
        sha256: Sha256,
        format: Type.Union([Type.Literal("jpeg"), Type.Literal("png")]),
        width: Type.Integer({ minimum: 1 }),
        height: Type.Integer({ minimum: 1 }),
      },
      { additionalProperties: false },
    ),
    /** where the sample came from on the site (upload, verdict, capture, import, synthetic) */
    siteSource: Type.String({ maxLength: 100 }),
    deviceId: Nullable(Type.String()),
    /** the site's incident id, for samples made from a verdict */
    incidentId: Nullable(Type.String()),
    eventId: Nullable(Type.String()),
    reason: Nullable(Type.String({ maxLength: 500 })),
    capturedAt: Nullable(Ts),
    prediction: Nullable(Type.Object({ label: Type.String(), score: Type.Number({ minimum: 0, maximum: 1 }) })),
    groupKey: Nullable(Type.String({ maxLength: 500 })),
    createdAt: Ts,
    /** the sample's current label revision on the site; a higher `rev` replaces central's label */
    label: Type.Object(
      {
        revisionId: Type.String({ minLength: 1, maxLength: 200 }),
        rev: Type.Integer({ minimum: 1 }),
        status: Type.Union([Type.Literal("labeled"), Type.Literal("reviewed")]),
        /** masks it names are uploaded before it, like the image */
        content: LabelContent,
        by: Type.String({ maxLength: 200 }),
        source: LabelRevisionSource,
        /** the site's verdict id (central keeps site verdicts by that id) */
        verdictId: Nullable(Type.String()),
        createdAt: Ts,
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type SiteSample = Static<typeof SiteSample>;

export const PushSiteSamples = Type.Object(
  { items: Type.Array(SiteSample, { maxItems: 500 }) },
  { additionalProperties: false },
);
export type PushSiteSamples = Static<typeof PushSiteSamples>;

/** Field figures of one model version on a site, over the window of the summary. */
export const SiteFieldModel = Type.Object({
  /** central's id when the model came from central, else the site's own */
  modelVersionId: Type.String(),
  /** incidents raised, and how people decided them (`open`: not yet decided, open or acknowledged) */
  incidents: Type.Integer({ minimum: 0 }),
  open: Type.Integer({ minimum: 0 }),
  confirmed: Type.Integer({ minimum: 0 }),
  falseAlarms: Type.Integer({ minimum: 0 }),
  relabeled: Type.Integer({ minimum: 0 }),
  /** confirmed / (confirmed + false alarms + relabeled); null when none was reviewed */
  precision: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  /** frames this version ran as a shadow challenger, and on how many it agreed with the champion */
  shadow: Nullable(Type.Object({ frames: Type.Integer({ minimum: 0 }), agree: Type.Integer({ minimum: 0 }) })),
});
export type SiteFieldModel = Static<typeof SiteFieldModel>;

/** A site's latest field summary: per project and model version; central keeps the newest. */
export const SiteField = Type.Object({
  /** when the site took it */
  at: Ts,
  /** days of incidents it covers (ending at `at`) */
  windowDays: Type.Integer({ minimum: 1 }),
  projects: Type.Array(Type.Object({ slug: Type.String(), models: Type.Array(SiteFieldModel, { maxItems: 1000 }) }), {
    maxItems: 1000,
  }),
});
export type SiteField = Static<typeof SiteField>;
