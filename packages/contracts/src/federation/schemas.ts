import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, nullable as Nullable, Timestamp as Ts } from "../common.js";
import { IncidentStatus, VerdictKind } from "../incidents/schemas.js";
import { ModelManifest, Sha256, Task } from "../manifest.js";
import { FrameMeta } from "../mqtt/payloads.js";
import { IncidentRule } from "../projects/schemas.js";
import { ModelLineage } from "../registry/models.js";
import { SiteField } from "./sample-schemas.js";

export * from "./sample-schemas.js";

/*
 * Site hub ⇄ central hub (docs/operations.md, "Multi-site"). A site hub runs the whole loop on
 * its own; it pushes its incidents, verdicts and a fleet summary to the central hub, and pulls
 * the model versions central approved for its projects. Projects are matched by slug.
 */

/** A site's project slugs: the central projects it serves (and whose approved models it receives). */
const Slugs = Type.Array(Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }), { maxItems: 1000, uniqueItems: true });

/** The latest fleet summary a site sent: devices per project and which model each runs. */
export const SiteFleet = Type.Object({
  /** when the site took it */
  at: Ts,
  projects: Type.Array(
    Type.Object({
      slug: Type.String(),
      devicesTotal: Type.Integer({ minimum: 0 }),
      devicesOnline: Type.Integer({ minimum: 0 }),
      /** devices by the model version they report running: central's id when it came from central */
      models: Type.Array(Type.Object({ modelVersionId: Type.String(), devices: Type.Integer({ minimum: 0 }) })),
    }),
    { maxItems: 1000 },
  ),
});
export type SiteFleet = Static<typeof SiteFleet>;

/** A site as the central hub knows it. */
export const Site = Type.Object({
  id: Id,
  name: Type.String(),
  projects: Type.Array(Type.String()),
  createdAt: Ts,
  /** the last time the site called central (any federation route); null before it ever did */
  lastSeenAt: Nullable(Ts),
  /** incidents and verdicts this site pushed, counted on central */
  incidents: Type.Integer(),
  verdicts: Type.Integer(),
  /** samples this site pushed into central's datasets (each counted once, however often relabelled) */
  samples: Type.Integer(),
  fleet: Nullable(SiteFleet),
  /** the site's latest field figures per project and model version; null before it sent any */
  field: Nullable(SiteField),
});
export type Site = Static<typeof Site>;

export const CreateSite = Type.Object(
  {
    id: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    projects: Slugs,
  },
  { additionalProperties: false },
);
export type CreateSite = Static<typeof CreateSite>;

/** A site and its token, shown once (central keeps only its digest). */
export const SiteWithToken = Type.Object({ site: Site, token: Type.String() });
export type SiteWithToken = Static<typeof SiteWithToken>;

export const SiteParams = Type.Object({ id: Type.String() });

/** An incident as the site pushes it: the site's own ids, its project by slug. */
export const SiteIncident = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200 }),
    projectSlug: Type.String(),
    deviceId: Type.String(),
    eventId: Type.String(),
    status: IncidentStatus,
    label: Type.String(),
    score: Type.Number(),
    rule: Type.String(),
    /** central's model version id when the site's model came from central, else the site's own */
    modelVersionId: Type.String(),
    bundleSha256: Type.String(),
    frameMeta: FrameMeta,
    /** the frame's sha256 once pushed to central (`frames` policy), else null */
    mediaSha256: Nullable(Sha256),
    createdAt: Ts,
    acknowledgedBy: Nullable(Type.String()),
    acknowledgedAt: Nullable(Ts),
  },
  { additionalProperties: false },
);
export type SiteIncident = Static<typeof SiteIncident>;

export const SiteVerdict = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200 }),
    /** the site's incident id */
    incidentId: Type.String(),
    verdict: VerdictKind,
    labels: Type.Array(Type.String()),
    note: Nullable(Type.String()),
    by: Type.String(),
    createdAt: Ts,
  },
  { additionalProperties: false },
);
export type SiteVerdict = Static<typeof SiteVerdict>;

export const PushIncidents = Type.Object(
  { items: Type.Array(SiteIncident, { maxItems: 500 }) },
  { additionalProperties: false },
);
export type PushIncidents = Static<typeof PushIncidents>;

export const PushVerdicts = Type.Object(
  { items: Type.Array(SiteVerdict, { maxItems: 500 }) },
  { additionalProperties: false },
);
export type PushVerdicts = Static<typeof PushVerdicts>;

/** Per-item outcome of a push (never thrown half-way): stored, already there, or refused. */
export const PushReply = Type.Object({
  ok: Type.Integer(),
  /** items central already had (a batch resent after a cut) */
  duplicates: Type.Integer(),
  failed: Type.Array(Type.Object({ item: Type.String(), code: Type.String(), message: Type.String() })),
});
export type PushReply = Static<typeof PushReply>;

/** A central project as a site creates it when it lacks one of this slug. */
export const SiteProject = Type.Object({
  slug: Type.String(),
  name: Type.String(),
  task: Task,
  labels: Type.Array(Type.String()),
  okLabels: Type.Array(Type.String()),
  rule: IncidentRule,
});
export type SiteProject = Static<typeof SiteProject>;

/** One approval on central of a model of the site's projects, in approval order. */
export const SiteModelApproval = Type.Object({
  approvalId: Id,
  approvedAt: Ts,
  project: SiteProject,
  model: Type.Object({
    id: Id,
    version: Type.Integer(),
    name: Type.String(),
    sha256: Sha256,
    size: Type.Integer(),
    manifest: ModelManifest,
    lineage: Nullable(ModelLineage),
  }),
});
export type SiteModelApproval = Static<typeof SiteModelApproval>;

export const SiteModelsQuery = Type.Object({
  /** the `nextCursor` of the previous page; from the first approval when omitted */
  since: Type.Optional(Type.String({ maxLength: 400 })),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
});

export const SiteModelsReply = Type.Object({
  items: Type.Array(SiteModelApproval),
  /** pass as `since` next time (also when items is empty) */
  nextCursor: Type.String(),
});
export type SiteModelsReply = Static<typeof SiteModelsReply>;

export const SiteModelFileParams = Type.Object({ id: Type.String(), modelId: Type.String() });
export const SiteFrameParams = Type.Object({ id: Type.String(), sha256: Sha256 });

/** This hub's federation role and, on a site, the state of its uplink. */
export const FederationStatus = Type.Object({
  role: Type.Union([Type.Literal("standalone"), Type.Literal("site")]),
  centralUrl: Nullable(Type.String()),
  siteId: Nullable(Type.String()),
  uplink: Type.Union([Type.Literal("up"), Type.Literal("down"), Type.Literal("unknown")]),
  /** when the uplink was first found down in the current outage */
  downSince: Nullable(Ts),
  lastSyncAt: Nullable(Ts),
  lastError: Nullable(ErrorInfo),
  /** what was sent or received since this hub started */
  pushed: Type.Object({
    incidents: Type.Integer(),
    verdicts: Type.Integer(),
    frames: Type.Integer(),
    /** labelled samples central took (a relabelled one again) */
    samples: Type.Integer(),
    /** rollout state reports (site rollouts) */
    rollouts: Type.Integer(),
  }),
  /** models registered, and site rollouts created (or refused, and reported so) */
  pulled: Type.Object({ models: Type.Integer(), rollouts: Type.Integer() }),
});
export type FederationStatus = Static<typeof FederationStatus>;
