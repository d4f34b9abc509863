import { type Static, Type } from "@sinclair/typebox";
import { ErrorInfo, EntityId as Id, nullable as Nullable, Timestamp as Ts } from "../common.js";
import { RolloutState } from "../fleet/rollouts.js";

/*
 * Commands central sends to a site rollout (docs/rollouts.md, "Across sites"): pause, resume
 * or roll back. Central records each (who, when, why) and serves them to the site in order
 * behind a cursor, like the rollout requests; the site applies each once through its own
 * rollout service and pushes back what came of it.
 */

export const SiteRolloutAction = Type.Union([Type.Literal("pause"), Type.Literal("resume"), Type.Literal("rollback")]);
export type SiteRolloutAction = Static<typeof SiteRolloutAction>;

/** `pending` until the site answered; then `applied`, or `refused` with the site's code. */
export const SiteRolloutCommandState = Type.Union([
  Type.Literal("pending"),
  Type.Literal("applied"),
  Type.Literal("refused"),
]);
export type SiteRolloutCommandState = Static<typeof SiteRolloutCommandState>;

export const SiteRolloutCommandParams = Type.Object({ id: Type.String(), rolloutId: Type.String() });

/** A command as central shows it. */
export const SiteRolloutCommand = Type.Object({
  id: Id,
  /** central's site rollout */
  siteRolloutId: Id,
  siteId: Type.String(),
  action: SiteRolloutAction,
  reason: Nullable(Type.String()),
  createdBy: Type.String(),
  createdAt: Ts,
  state: SiteRolloutCommandState,
  /** the site's rollout state right after it applied (or refused) the command */
  rolloutState: Nullable(RolloutState),
  /** why the site refused it (e.g. KENSA_ERR_ROLLOUT_STATE: the rollout had finished) */
  error: Nullable(ErrorInfo),
  /** the site's time of its answer; null while pending */
  answeredAt: Nullable(Ts),
});
export type SiteRolloutCommand = Static<typeof SiteRolloutCommand>;

/** A command as the site pulls it. */
export const SiteRolloutCommandOrder = Type.Object({
  id: Id,
  siteRolloutId: Id,
  action: SiteRolloutAction,
  reason: Nullable(Type.String()),
  createdBy: Type.String(),
  createdAt: Ts,
});
export type SiteRolloutCommandOrder = Static<typeof SiteRolloutCommandOrder>;

export const SiteRolloutCommandOrdersReply = Type.Object({
  items: Type.Array(SiteRolloutCommandOrder),
  /** pass as `since` next time (also when items is empty) */
  nextCursor: Type.String(),
});
export type SiteRolloutCommandOrdersReply = Static<typeof SiteRolloutCommandOrdersReply>;

/** What the site did with a command; sent again after a cut, stored once. */
export const SiteRolloutCommandResult = Type.Object(
  {
    /** central's command id */
    id: Id,
    outcome: Type.Union([Type.Literal("applied"), Type.Literal("refused")]),
    rolloutState: Nullable(RolloutState),
    error: Nullable(ErrorInfo),
    answeredAt: Ts,
  },
  { additionalProperties: false },
);
export type SiteRolloutCommandResult = Static<typeof SiteRolloutCommandResult>;

export const PushSiteRolloutCommandResults = Type.Object(
  { items: Type.Array(SiteRolloutCommandResult, { maxItems: 500 }) },
  { additionalProperties: false },
);
export type PushSiteRolloutCommandResults = Static<typeof PushSiteRolloutCommandResults>;
