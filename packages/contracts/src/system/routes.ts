import { defineRoutes } from "../route.js";
import { HubHealth, HubStats } from "./schemas.js";

/** System: the hub's health and its counters. */
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
});
