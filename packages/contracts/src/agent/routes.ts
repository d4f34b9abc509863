import { defineRoutes } from "../route.js";

/** The agent's own local HTTP API (status page, status, metrics, push sources); filled in by the agent's status server. */
export const agentStatusRoutes = defineRoutes({});
