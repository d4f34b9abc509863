import { fleetRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { DeviceService } from "./device-service.js";

/** What these routes use of the hub. */
export interface DeviceRoutesDeps {
  audit: AuditLog;
  devices: DeviceService;
}

export function deviceRoutes(app: FastifyInstance, s: DeviceRoutesDeps): void {
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
  route(app, routes.rotateSecret, async (req) => {
    const rotated = await s.devices.rotateSecret(req.params.id);
    await s.audit.recordRequest(
      req,
      "device.secret_rotate",
      { type: "device", id: rotated.device.id },
      { projectId: rotated.device.projectId },
    );
    return rotated;
  });
  route(app, routes.revoke, async (req) => {
    const device = await s.devices.revoke(req.params.id);
    await s.audit.recordRequest(
      req,
      "device.revoke",
      { type: "device", id: device.id },
      { projectId: device.projectId, revokedAt: device.revokedAt, brokerAccount: device.brokerAccount },
    );
    return device;
  });
}
