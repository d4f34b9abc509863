import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, Timestamp as Ts } from "../common.js";
import { Task } from "../manifest.js";
import { NotificationRoute, PublicSmsRouting, SeverityScale, SmsRouting } from "./notification-routing.js";

export * from "./notification-routing.js";

// ---- projects ---------------------------------------------------------------------------

export const IncidentRule = Type.Object(
  {
    type: Type.Literal("threshold"),
    /** finding labels that raise incidents; every non-OK label when empty */
    labels: Type.Array(Type.String(), { default: [] }),
    minScore: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
  },
  { additionalProperties: false },
);
export type IncidentRule = Static<typeof IncidentRule>;

export const WebhookTarget = Type.Object(
  {
    url: Type.String({ pattern: "^https?://" }),
    /** HMAC-SHA256 key for the `x-kensa-signature` header */
    secret: Type.String({ minLength: 16 }),
  },
  { additionalProperties: false },
);

export const NotificationRouting = Type.Object(
  {
    email: Type.Array(Type.String({ pattern: "^[^@\\s]+@[^@\\s]+$" }), { default: [] }),
    webhooks: Type.Array(WebhookTarget, { default: [] }),
    /** seconds during which further incidents of the project notify no one again */
    cooldownSec: Type.Integer({ minimum: 0, default: 300 }),
    /** text messages through an HTTP gateway (docs/notifications.md) */
    sms: Type.Optional(SmsRouting),
    /** how an incident's severity is decided, for `routes` and quiet-hour overrides */
    severity: Type.Optional(SeverityScale),
    /** which channels hear of which incidents; every channel of every incident when absent */
    routes: Type.Optional(Type.Array(NotificationRoute, { maxItems: 100 })),
  },
  { additionalProperties: false },
);
export type NotificationRouting = Static<typeof NotificationRouting>;

export const CreateProject = Type.Object(
  {
    slug: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    task: Task,
    labels: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, uniqueItems: true }),
    okLabels: Type.Array(Type.String(), { default: [] }),
    rule: Type.Optional(IncidentRule),
    notifications: Type.Optional(NotificationRouting),
  },
  { additionalProperties: false },
);
export type CreateProject = Static<typeof CreateProject>;

export const UpdateProject = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    rule: Type.Optional(IncidentRule),
    notifications: Type.Optional(NotificationRouting),
  },
  { additionalProperties: false },
);
export type UpdateProject = Static<typeof UpdateProject>;

/** Webhook secrets never leave the hub; replies show only the target URL. */
export const Project = Type.Object({
  id: Id,
  slug: Type.String(),
  name: Type.String(),
  task: Task,
  labels: Type.Array(Type.String()),
  okLabels: Type.Array(Type.String()),
  rule: IncidentRule,
  notifications: Type.Object({
    email: Type.Array(Type.String()),
    webhooks: Type.Array(Type.Object({ url: Type.String() })),
    cooldownSec: Type.Integer(),
    sms: Type.Optional(PublicSmsRouting),
    severity: Type.Optional(SeverityScale),
    routes: Type.Optional(Type.Array(NotificationRoute)),
  }),
  createdAt: Ts,
});
export type Project = Static<typeof Project>;
