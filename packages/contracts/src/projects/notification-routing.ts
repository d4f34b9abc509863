import { type Static, Type } from "@sinclair/typebox";

// ---- severities, routes across channels, SMS ---------------------------------------------

export const Severity = Type.Union([Type.Literal("minor"), Type.Literal("major"), Type.Literal("critical")]);
export type Severity = Static<typeof Severity>;

export const NotificationChannel = Type.Union([Type.Literal("email"), Type.Literal("webhook"), Type.Literal("sms")]);
export type NotificationChannel = Static<typeof NotificationChannel>;

/**
 * How an incident's severity is decided: a label listed in `labels` has that severity;
 * otherwise a score at or above `critical` is critical, at or above `major` major, else minor.
 */
export const SeverityScale = Type.Object(
  {
    critical: Type.Number({ minimum: 0, maximum: 1, default: 0.9 }),
    major: Type.Number({ minimum: 0, maximum: 1, default: 0.7 }),
    labels: Type.Record(Type.String({ minLength: 1 }), Severity, { default: {} }),
  },
  { additionalProperties: false },
);
export type SeverityScale = Static<typeof SeverityScale>;

/**
 * One routing entry: incidents matching every filter given (severity, label, rule text) go to
 * `channels`. An incident goes to the union of the channels of the routes it matches; without
 * any routes every channel hears of every incident.
 */
export const NotificationRoute = Type.Object(
  {
    severities: Type.Optional(Type.Array(Severity, { minItems: 1, uniqueItems: true })),
    labels: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true })),
    /** the incident's rule, as the incident names it (e.g. "threshold: crack ≥ 0.50") */
    rules: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true })),
    channels: Type.Array(NotificationChannel, { minItems: 1, uniqueItems: true }),
  },
  { additionalProperties: false },
);
export type NotificationRoute = Static<typeof NotificationRoute>;

/**
 * A daily window (local time in `timeZone`) in which SMS are held back: deferred to the end of
 * the window, except severities in `override`, which are sent at once.
 */
export const QuietHours = Type.Object(
  {
    start: Type.String({ pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$", description: "HH:MM, local" }),
    end: Type.String({ pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$", description: "HH:MM, local" }),
    /** IANA time zone, e.g. "Europe/Berlin" */
    timeZone: Type.String({ minLength: 1, default: "UTC" }),
    override: Type.Array(Severity, { uniqueItems: true, default: ["critical"] }),
  },
  { additionalProperties: false },
);
export type QuietHours = Static<typeof QuietHours>;

/** How the hub authenticates to the gateway; secrets are sealed at rest like webhook secrets. */
export const SmsGatewayAuth = Type.Union([
  Type.Object({ type: Type.Literal("none") }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal("bearer"), token: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  Type.Object(
    { type: Type.Literal("basic"), username: Type.String({ minLength: 1 }), password: Type.String({ minLength: 1 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal("header"),
      name: Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" }),
      value: Type.String({ minLength: 1 }),
    },
    { additionalProperties: false },
  ),
]);
export type SmsGatewayAuth = Static<typeof SmsGatewayAuth>;

/** The request shape the gateway expects (docs/notifications.md shows each). */
export const SmsAdapter = Type.Union([
  Type.Literal("generic"),
  Type.Literal("twilio"),
  Type.Literal("vonage"),
  Type.Literal("messagebird"),
  Type.Literal("template"),
]);
export type SmsAdapter = Static<typeof SmsAdapter>;

export const SmsGateway = Type.Object(
  {
    /** the API endpoint; for `twilio` the account URL, to which `/Messages.json` is added */
    url: Type.String({ pattern: "^https?://" }),
    method: Type.Union([Type.Literal("POST"), Type.Literal("PUT")], { default: "POST" }),
    adapter: SmsAdapter,
    /** sender number or alphanumeric sender id */
    from: Type.String({ minLength: 1, maxLength: 32 }),
    auth: SmsGatewayAuth,
    /**
     * `template` only: the JSON body, whose string values may hold {{to}}, {{from}}, {{text}},
     * {{severity}}, {{project}}, {{device}}, {{label}}, {{incidentId}}, {{url}}
     */
    template: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type SmsGateway = Static<typeof SmsGateway>;

export const SmsRecipient = Type.Object(
  {
    /** E.164, e.g. "+491701234567" */
    phone: Type.String({ pattern: "^\\+[1-9][0-9]{6,14}$" }),
    name: Type.Optional(Type.String({ maxLength: 100 })),
    /** this recipient's own quiet hours, instead of the channel's */
    quietHours: Type.Optional(QuietHours),
  },
  { additionalProperties: false },
);
export type SmsRecipient = Static<typeof SmsRecipient>;

export const SmsRouting = Type.Object(
  {
    gateway: SmsGateway,
    recipients: Type.Array(SmsRecipient, { minItems: 1 }),
    /** SMS per recipient in any rolling hour; further ones are recorded as suppressed. 0 = no limit */
    maxPerHour: Type.Integer({ minimum: 0, maximum: 1000, default: 6 }),
    /** quiet hours of every recipient without their own */
    quietHours: Type.Optional(QuietHours),
  },
  { additionalProperties: false },
);
export type SmsRouting = Static<typeof SmsRouting>;

/** The SMS routing as replies show it: the gateway's secrets left out. */
export const PublicSmsRouting = Type.Object({
  gateway: Type.Object({
    url: Type.String(),
    method: Type.String(),
    adapter: SmsAdapter,
    from: Type.String(),
    auth: Type.Object({ type: Type.String() }),
  }),
  recipients: Type.Array(SmsRecipient),
  maxPerHour: Type.Integer(),
  quietHours: Type.Optional(QuietHours),
});
export type PublicSmsRouting = Static<typeof PublicSmsRouting>;
