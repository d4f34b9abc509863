import { HubStats, PROTOCOL_VERSION } from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { HubServices } from "../hub-services.js";

const Health = Type.Object({
  status: Type.Literal("ok"),
  protocol: Type.Integer(),
  mqtt: Type.Union([Type.Literal("connected"), Type.Literal("disconnected")]),
});

// `/` and client-side pages such as `/incidents/:id` (notification links) belong to the web
// console, served by web/console-routes.ts.
export function systemRoutes(app: FastifyInstance, s: HubServices): void {
  app.get(
    "/api/v1/stats",
    { schema: { response: { 200: HubStats } }, config: { permission: "stats:read" } },
    async () => s.stats.get(),
  );

  app.get("/health", { schema: { response: { 200: Health } }, config: { auth: "public" } }, async () => ({
    status: "ok" as const,
    protocol: PROTOCOL_VERSION,
    mqtt: s.mqttConnected() ? ("connected" as const) : ("disconnected" as const),
  }));
}
