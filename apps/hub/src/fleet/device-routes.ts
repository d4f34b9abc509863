import { type IssuedDeviceCertificate, fleetRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { DeviceCertificateService } from "./device-certificates.js";
import type { DeviceLifecycle } from "./device-lifecycle.js";
import type { DeviceService } from "./device-service.js";

/** What these routes use of the hub. */
export interface DeviceRoutesDeps {
  audit: AuditLog;
  devices: DeviceService;
  deviceCertificates: DeviceCertificateService;
  deviceLifecycle: DeviceLifecycle;
}

export function deviceRoutes(app: FastifyInstance, s: DeviceRoutesDeps): void {
  route(app, routes.enroll, async (req) => {
    const { certificate, ...body } = req.body;
    // checked before the device exists: a disabled CA or a bad CSR enrolls nothing
    const prepared = certificate ? await s.deviceCertificates.prepare(certificate, body.id) : null;
    const enrolled = await s.devices.enroll(body);
    const target = { type: "device", id: enrolled.device.id };
    await s.audit.recordRequest(req, "device.enroll", target, { projectId: enrolled.device.projectId });
    if (!prepared) return enrolled;
    const issued = await s.deviceCertificates.issue(enrolled.device.id, prepared);
    await s.audit.recordRequest(
      req,
      "device.certificate_issue",
      target,
      issueDetails(issued, enrolled.device.projectId),
    );
    return { ...enrolled, certificate: issued };
  });
  route(app, routes.issueCertificate, async (req) => {
    const issued = await s.deviceCertificates.issue(req.params.id, req.body);
    const { projectId } = await s.devices.get(req.params.id);
    const target = { type: "device", id: req.params.id };
    await s.audit.recordRequest(req, "device.certificate_issue", target, issueDetails(issued, projectId));
    return issued;
  });
  route(app, routes.listCertificates, async (req) => ({ items: await s.deviceCertificates.list(req.params.id) }));
  route(app, routes.revokeCertificate, async (req) => {
    const revoked = await s.deviceCertificates.revoke(req.params.id, req.params.serial);
    const { projectId } = await s.devices.get(req.params.id);
    await s.audit.recordRequest(
      req,
      "device.certificate_revoke",
      { type: "device", id: req.params.id },
      { projectId, serial: revoked.serial, revokedAt: revoked.revokedAt },
    );
    return revoked;
  });
  route(app, routes.list, async (req) => ({ items: await s.devices.list(req.query) }));
  route(app, routes.get, async (req) => s.devices.get(req.params.id));
  route(app, routes.update, async (req) => {
    const { device, changes, applied } = await s.deviceLifecycle.update(req.params.id, req.body);
    if (Object.keys(changes).length > 0) {
      await s.audit.recordRequest(
        req,
        "device.update",
        { type: "device", id: device.id },
        { projectId: device.projectId, changes, applied },
      );
    }
    return { device, applied };
  });
  route(app, routes.retire, async (req) => {
    const before = await s.devices.get(req.params.id);
    const device = await s.deviceLifecycle.retire(req.params.id);
    // retiring a retired device changes nothing and records nothing
    if (!before.retiredAt) {
      await s.audit.recordRequest(
        req,
        "device.retire",
        { type: "device", id: device.id },
        { projectId: device.projectId, retiredAt: device.retiredAt, brokerAccount: device.brokerAccount },
      );
    }
    return device;
  });
  route(app, routes.remove, async (req) => {
    const { device, deletedAt, frameKept, certificatesDeleted } = await s.deviceLifecycle.remove(req.params.id);
    await s.audit.recordRequest(
      req,
      "device.delete",
      { type: "device", id: device.id },
      {
        projectId: device.projectId,
        name: device.name,
        tags: device.tags,
        retiredAt: device.retiredAt,
        deletedAt,
        eventsStored: device.events.stored,
        certificatesDeleted,
        frameKept,
      },
    );
  });
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

function issueDetails(issued: IssuedDeviceCertificate, projectId: string): Record<string, unknown> {
  const { serial, notAfter } = issued.certificate;
  return { projectId, serial, notAfter, keyMadeByHub: issued.key !== undefined };
}
