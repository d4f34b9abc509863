import { PROTOCOL_VERSION, systemRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { route } from "../http/route.js";
import type { StatsService } from "./stats-service.js";

/** What these routes use of the hub. */
export interface SystemRoutesDeps {
  mqttConnected: () => boolean;
  stats: StatsService;
}

// `/` and client-side pages such as `/incidents/:id` (notification links) belong to the web
// console, served by web/console-routes.ts.
export function systemRoutes(app: FastifyInstance, s: SystemRoutesDeps): void {
  route(app, routes.stats, async () => s.stats.get());
  route(app, routes.health, async () => ({
    status: "ok" as const,
    protocol: PROTOCOL_VERSION,
    mqtt: s.mqttConnected() ? ("connected" as const) : ("disconnected" as const),
  }));
}
