import { fleetRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { route } from "../http/route.js";
import type { HubServices } from "../hub-services.js";

export function deviceRoutes(app: FastifyInstance, s: HubServices): void {
  route(app, routes.enroll, async (req) => {
    const enrolled = await s.devices.enroll(req.body);
    await s.audit.recordRequest(
      req,
      "device.enroll",
      { type: "device", id: enrolled.device.id },
      { projectId: enrolled.device.projectId },
    );
    return enrolled;
  });
  route(app, routes.list, async (req) => ({ items: await s.devices.list(req.query) }));
  route(app, routes.get, async (req) => s.devices.get(req.params.id));
}
