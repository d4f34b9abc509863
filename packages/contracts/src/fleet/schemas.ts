import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, Timestamp as Ts } from "../common.js";
import { Sha256 } from "../manifest.js";
import { Reported, Telemetry } from "../mqtt/payloads.js";
import { DEVICE_ID_PATTERN } from "../mqtt/topics.js";
import { DeploymentPrecision, DeviceTarget } from "./bundle-targets.js";
import { IssueDeviceCertificate, IssuedDeviceCertificate } from "./certificates.js";
import { SignedStatement } from "./signing.js";

// ---- devices ----------------------------------------------------------------------------

export const EnrollDevice = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: DEVICE_ID_PATTERN })),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    projectId: Id,
    arch: Type.Optional(Type.Union([Type.Literal("x64"), Type.Literal("arm64"), Type.Literal("armv7")])),
    tags: Type.Array(Type.String({ pattern: "^[a-z0-9][a-z0-9:_-]{0,62}$" }), { default: [] }),
    /** a client certificate issued with the enrolment (mutual TLS on the embedded broker) */
    certificate: Type.Optional(IssueDeviceCertificate),
  },
  { additionalProperties: false },
);
export type EnrollDevice = Static<typeof EnrollDevice>;

export const Device = Type.Object({
  id: Id,
  name: Type.String(),
  projectId: Id,
  arch: Type.Union([Type.String(), Type.Null()]),
  tags: Type.Array(Type.String()),
  presence: Type.Union([Type.Literal("online"), Type.Literal("offline"), Type.Literal("never")]),
  lastSeenAt: Type.Union([Ts, Type.Null()]),
  /** when the device's credentials were revoked (it can neither connect nor fetch); null when active */
  revokedAt: Type.Union([Ts, Type.Null()]),
  /**
   * when the device was retired (taken out of service for good: revoked, left out of counts,
   * listings and deployments, its history kept); null while in service
   */
  retiredAt: Type.Union([Ts, Type.Null()]),
  /** what people wrote about the device (where it is mounted, what it watches); null when nothing */
  description: Type.Union([Type.String(), Type.Null()]),
  /**
   * The device's account on a broker the hub manages (Mosquitto dynamic security): `ok`, or
   * `pending` (a revocation the broker has not confirmed yet; retried) or `needs-rotation` (the
   * broker lost the account; rotate the secret). Always `ok` with the embedded broker.
   */
  brokerAccount: Type.Union([Type.Literal("ok"), Type.Literal("pending"), Type.Literal("needs-rotation")]),
  reported: Type.Union([Reported, Type.Null()]),
  telemetry: Type.Union([Telemetry, Type.Null()]),
  desiredRev: Type.Integer(),
  createdAt: Ts,
  /**
   * The device's event sequence as the hub sees it: `stored` events (replays not counted), the
   * highest `maxSeq` stored, and `missing` = maxSeq − stored − events the agent reports it
   * dropped on a full disk or the hub refused for good (`eventsDropped`, `eventsRejected`).
   * A `missing` that stays above 0 is a gap: events that left the device without reaching the
   * hub (or were stored under another device's id).
   */
  events: Type.Object({
    stored: Type.Integer({ minimum: 0 }),
    maxSeq: Type.Integer({ minimum: 0 }),
    missing: Type.Integer({ minimum: 0 }),
  }),
});
export type Device = Static<typeof Device>;

/** The only replies that ever show a device secret: enrolment and secret rotation. */
export const EnrolledDevice = Type.Object({
  device: Device,
  secret: Type.String(),
  mqttUrl: Type.String(),
  hubUrl: Type.String(),
  command: Type.String({ description: "how to start this device's agent" }),
  /** the client certificate, when the enrolment asked for one */
  certificate: Type.Optional(IssuedDeviceCertificate),
  /** the hub's signed trust root: the keys the device's bundles are signed with (docs/bundles.md) */
  trust: Type.Optional(SignedStatement),
});
export type EnrolledDevice = Static<typeof EnrolledDevice>;

/** A device tag: lower case, digits, `:`, `_` and `-`. */
export const DEVICE_TAG_PATTERN = "^[a-z0-9][a-z0-9:_-]{0,62}$";
const Tags = Type.Array(Type.String({ pattern: DEVICE_TAG_PATTERN }), { maxItems: 64 });

/**
 * `PATCH /devices/:id`: what people edit. `tags` replaces the whole set; `addTags`/`removeTags`
 * change it in place (one request, no lost update), and cannot be combined with `tags`.
 * `description: null` (or "") clears it.
 */
export const UpdateDevice = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
    tags: Type.Optional(Tags),
    addTags: Type.Optional(Tags),
    removeTags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);
export type UpdateDevice = Static<typeof UpdateDevice>;

/** The device after an edit, and the tag deployments its new tags made it take (see docs/permissions.md). */
export const UpdatedDevice = Type.Object({
  device: Device,
  /** per pipeline, the deployment the device now runs because of its tags; empty when nothing changed */
  applied: Type.Array(
    Type.Object({ deploymentId: Type.String(), pipeline: Type.String(), modelVersionId: Type.String() }),
  ),
});
export type UpdatedDevice = Static<typeof UpdatedDevice>;

// ---- deployments ------------------------------------------------------------------------

export const CreateDeployment = Type.Object(
  {
    modelVersionId: Id,
    pipeline: Type.String({ default: "default", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }),
    target: Type.Object(
      {
        deviceIds: Type.Array(Type.String(), { default: [] }),
        tags: Type.Array(Type.String(), { default: [] }),
      },
      { additionalProperties: false },
    ),
    /** fp32 or int8 model file per device (docs/agent.md, "Targets and self-test"); `auto` when omitted */
    precision: Type.Optional(DeploymentPrecision),
    /**
     * run the version as the pipeline's shadow beside what the devices run: same frames, never
     * an incident, agreement reported (docs/rollouts.md); a candidate may be a shadow
     */
    shadow: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateDeployment = Static<typeof CreateDeployment>;

export const Deployment = Type.Object({
  id: Id,
  projectId: Id,
  modelVersionId: Id,
  bundleSha256: Sha256,
  pipeline: Type.String(),
  target: Type.Object({ deviceIds: Type.Array(Type.String()), tags: Type.Array(Type.String()) }),
  deviceIds: Type.Array(Type.String()),
  createdAt: Ts,
  /** the precision asked for (`auto` for deployments made before targets) */
  precision: Type.Optional(DeploymentPrecision),
  /** per device, the bundle and target it got (in the reply of a new deployment; `GET …/targets` for any) */
  targets: Type.Optional(Type.Array(DeviceTarget)),
  /** the version runs as the pipeline's shadow */
  shadow: Type.Optional(Type.Boolean()),
});
export type Deployment = Static<typeof Deployment>;

/** `GET /devices`: the devices of one project, or all; retired devices only when asked for. */
export const DeviceQuery = Type.Object(
  {
    projectId: Type.Optional(Type.String()),
    /** `exclude` (the default): devices in service; `include`: retired ones too; `only`: retired ones */
    retired: Type.Optional(Type.Union([Type.Literal("exclude"), Type.Literal("include"), Type.Literal("only")])),
  },
  { additionalProperties: false },
);
export type DeviceQuery = Static<typeof DeviceQuery>;

/** `GET /deployments`: the deployments of one project, or all. */
export const DeploymentQuery = Type.Object(
  { projectId: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
export type DeploymentQuery = Static<typeof DeploymentQuery>;
