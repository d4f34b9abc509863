import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, nullable as Nullable, Timestamp as Ts } from "../common.js";
import { DeploymentPrecision } from "../fleet/bundle-targets.js";
import { CreateRollout, RolloutState, RolloutWave } from "../fleet/rollouts.js";
import { SiteRolloutCommand } from "./command-schemas.js";
import { SiteModelApproval, SiteProject } from "./schemas.js";

/*
 * Site rollouts (docs/operations.md, "Multi-site"; docs/rollouts.md, "Across sites"): an
 * operator on central asks a site to roll an approved model version out to some of its devices
 * in waves. Central keeps the request; the site pulls it after the model, runs the staged
 * rollout with its own gates, and pushes the rollout's state back up as it changes.
 */

const { pipeline, target, strategy, gates, precision } = CreateRollout.properties;

/** A staged rollout central asks a site to run: the local CreateRollout body, in deploy mode, started at once. */
export const CreateSiteRollout = Type.Object(
  {
    /** central's model version; it must be approved on central */
    modelVersionId: Id,
    pipeline,
    /** the site's devices by id or tag; both empty: every device of the site's project in service */
    target,
    strategy,
    gates,
    precision,
  },
  { additionalProperties: false },
);
export type CreateSiteRollout = Static<typeof CreateSiteRollout>;

/** A site rollout's state on central: `requested` until the site reported, `failed` when the site could not create it. */
export const SiteRolloutState = Type.Union([Type.Literal("requested"), Type.Literal("failed"), RolloutState]);
export type SiteRolloutState = Static<typeof SiteRolloutState>;

/** One wave of the site's rollout as the site reported it (the gates' latest verdicts included). */
export const SiteRolloutWave = Type.Pick(RolloutWave, ["index", "deviceIds", "state", "startedAt", "endedAt", "gates"]);
export type SiteRolloutWave = Static<typeof SiteRolloutWave>;

/** What the site reports of the rollout it ran for a site rollout: its latest state, replaced on each change. */
export const SiteRolloutReport = Type.Object(
  {
    /** central's site rollout id */
    id: Id,
    /** the site's own rollout; null when the site could not create it (see `error`) */
    rolloutId: Nullable(Type.String()),
    state: SiteRolloutState,
    currentWave: Type.Integer({ minimum: 0 }),
    waves: Type.Array(SiteRolloutWave, { maxItems: 1000 }),
    /** why it is paused, rolled back or aborted (the site rollout's latest reason) */
    reason: Nullable(Type.String()),
    /** why the site refused to create it (no device matched the target, a conflicting rollout, …) */
    error: Nullable(ErrorInfo),
    /** when the site's rollout last changed; an older report never replaces a newer one */
    updatedAt: Ts,
  },
  { additionalProperties: false },
);
export type SiteRolloutReport = Static<typeof SiteRolloutReport>;

export const PushSiteRollouts = Type.Object(
  { items: Type.Array(SiteRolloutReport, { maxItems: 500 }) },
  { additionalProperties: false },
);
export type PushSiteRollouts = Static<typeof PushSiteRollouts>;

/** A site rollout as central shows it: the request and what the site last reported. */
export const SiteRollout = Type.Object({
  id: Id,
  siteId: Type.String(),
  projectId: Id,
  /** central's model version id */
  modelVersionId: Id,
  pipeline: Type.String(),
  target: Type.Object({ deviceIds: Type.Array(Type.String()), tags: Type.Array(Type.String()) }),
  strategy: CreateSiteRollout.properties.strategy,
  gates: CreateSiteRollout.properties.gates,
  precision: DeploymentPrecision,
  createdBy: Type.String(),
  createdAt: Ts,
  state: SiteRolloutState,
  /** the site's rollout id once it reported one */
  siteRolloutId: Nullable(Type.String()),
  currentWave: Type.Integer({ minimum: 0 }),
  waves: Type.Array(SiteRolloutWave),
  reason: Nullable(Type.String()),
  error: Nullable(ErrorInfo),
  /** the site's time of the state shown; null before the site reported */
  reportedAt: Nullable(Ts),
  /** when central stored that report */
  receivedAt: Nullable(Ts),
  /** pause, resume and rollback sent from central, oldest first, each with the site's answer */
  commands: Type.Array(SiteRolloutCommand),
});
export type SiteRollout = Static<typeof SiteRollout>;

/** A site rollout as the site pulls it: the model (to register it if the site lacks it) and the rollout to create. */
export const SiteRolloutOrder = Type.Object({
  id: Id,
  createdAt: Ts,
  createdBy: Type.String(),
  project: SiteProject,
  model: SiteModelApproval.properties.model,
  rollout: Type.Object({
    pipeline: Type.String(),
    target: Type.Object({ deviceIds: Type.Array(Type.String()), tags: Type.Array(Type.String()) }),
    strategy: CreateSiteRollout.properties.strategy,
    gates: CreateSiteRollout.properties.gates,
    precision: DeploymentPrecision,
  }),
});
export type SiteRolloutOrder = Static<typeof SiteRolloutOrder>;

export const SiteRolloutOrdersReply = Type.Object({
  items: Type.Array(SiteRolloutOrder),
  /** pass as `since` next time (also when items is empty) */
  nextCursor: Type.String(),
});
export type SiteRolloutOrdersReply = Static<typeof SiteRolloutOrdersReply>;
