import { Type } from "@sinclair/typebox";
import { defineRoutes } from "../route.js";
import { FsckReport, FsckRequest } from "./fsck.js";
import { HubHealth, HubStats } from "./schemas.js";

/** System: the hub's health, its counters, and the API's own description. */
export const systemRoutes = defineRoutes({
  stats: {
    method: "GET",
    path: "/api/v1/stats",
    summary: "Counts of devices, events, incidents, verdicts, notifications and ingest outcomes",
    permission: "stats:read",
    reply: HubStats,
  },
  health: {
    method: "GET",
    path: "/health",
    summary: "Whether the hub answers, its protocol version and whether it reaches the MQTT broker",
    auth: "public",
    reply: HubHealth,
  },
  metrics: {
    method: "GET",
    path: "/metrics",
    summary: "Prometheus metrics: ingest counters and queue, storage failures, event sequence gaps, broker refusals",
    permission: "stats:read",
    produces: { kind: "text", types: ["text/plain; version=0.0.4"] },
  },
  fsck: {
    method: "POST",
    path: "/api/v1/system/fsck",
    summary:
      "Check blobs against the database (corrupt, missing, orphaned, early media whose event never came); repair: true fixes them",
    permission: "users:manage",
    body: FsckRequest,
    reply: FsckReport,
  },
  openapi: {
    method: "GET",
    path: "/api/openapi.json",
    summary: "This API as an OpenAPI 3.1 document (the rendered reference is at /api/docs)",
    auth: "public",
    reply: Type.Object({ openapi: Type.String() }, { additionalProperties: true }),
  },
});

/** Where the hub serves the rendered API reference. */
export const API_REFERENCE_PREFIX = "/api/docs";
