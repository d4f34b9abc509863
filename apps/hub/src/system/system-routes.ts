import { type HealthProblem, PROTOCOL_VERSION, systemRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { route } from "../http/route.js";
import type { HubMetrics } from "./hub-metrics.js";
import type { StatsService } from "./stats-service.js";

/** What these routes use of the hub. */
export interface SystemRoutesDeps {
  mqttConnected: () => boolean;
  /** what keeps the hub from doing its job in full (ingest storage failing, …) */
  problems: () => HealthProblem[];
  stats: StatsService;
  metrics: HubMetrics;
}

// `/` and client-side pages such as `/incidents/:id` (notification links) belong to the web
// console, served by web/console-routes.ts.
export function systemRoutes(app: FastifyInstance, s: SystemRoutesDeps): void {
  let brokerLostSince: string | null = null;
  route(app, routes.stats, async () => s.stats.get());
  route(app, routes.health, async () => {
    const connected = s.mqttConnected();
    const problems = s.problems();
    if (connected) brokerLostSince = null;
    else {
      brokerLostSince ??= new Date().toISOString();
      problems.push({
        code: "KENSA_ERR_BROKER_UNREACHABLE",
        message: "the hub is not connected to its MQTT broker; devices keep their events until it is back",
        since: brokerLostSince,
      });
    }
    return {
      status: problems.length > 0 ? ("degraded" as const) : ("ok" as const),
      protocol: PROTOCOL_VERSION,
      mqtt: connected ? ("connected" as const) : ("disconnected" as const),
      problems,
    };
  });
  route(app, routes.metrics, async (_req, reply) =>
    reply.type("text/plain; version=0.0.4; charset=utf-8").send(await s.metrics.text()),
  );
}
