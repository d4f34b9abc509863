import { PROTOCOL_VERSION, systemRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { route } from "../http/route.js";
import type { HubServices } from "../hub-services.js";

// `/` and client-side pages such as `/incidents/:id` (notification links) belong to the web
// console, served by web/console-routes.ts.
export function systemRoutes(app: FastifyInstance, s: HubServices): void {
  route(app, routes.stats, async () => s.stats.get());
  route(app, routes.health, async () => ({
    status: "ok" as const,
    protocol: PROTOCOL_VERSION,
    mqtt: s.mqttConnected() ? ("connected" as const) : ("disconnected" as const),
  }));
}
