import { type Static, Type } from "@sinclair/typebox";

export const HubStats = Type.Object({
  devices: Type.Object({ total: Type.Integer(), online: Type.Integer() }),
  events: Type.Integer(),
  incidents: Type.Integer(),
  verdicts: Type.Integer(),
  notifications: Type.Object({
    sent: Type.Integer(),
    failed: Type.Integer(),
    suppressed: Type.Integer(),
    pending: Type.Integer(),
  }),
  ingest: Type.Object({
    received: Type.Integer(),
    stored: Type.Integer(),
    duplicates: Type.Integer(),
    invalid: Type.Integer(),
    unknownDevice: Type.Integer(),
  }),
});
export type HubStats = Static<typeof HubStats>;

/** `GET /health`: the hub answers, with its protocol version and whether it reaches the broker. */
export const HubHealth = Type.Object({
  status: Type.Literal("ok"),
  protocol: Type.Integer(),
  mqtt: Type.Union([Type.Literal("connected"), Type.Literal("disconnected")]),
});
export type HubHealth = Static<typeof HubHealth>;
