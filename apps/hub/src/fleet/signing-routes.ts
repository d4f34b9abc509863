import { signingRoutes as routes } from "@kensa/contracts";
import fp from "fastify-plugin";
import { callingDevice } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { SigningService } from "./signing-service.js";

export interface SigningPluginOptions {
  signing: SigningService;
  audit: AuditLog;
}

/** Trust roots and detached bundle signatures for devices; key status, rotation and retirement for admins. */
export const signingPlugin = fp<SigningPluginOptions>(
  async (app, s) => {
    route(app, routes.trust, async (req) => ({ roots: await s.signing.trustChain(req.query.since) }));
    route(app, routes.bundleSignatures, async (req) => {
      const device = callingDevice(req);
      const caller = device ? { deviceId: device.deviceId, projectId: device.projectId } : null;
      return s.signing.signaturesFor(req.params.sha, caller, req.query.pipeline);
    });
    route(app, routes.status, async () => s.signing.status());
    route(app, routes.rotate, async (req) => {
      const before = s.signing.keyId;
      const status = await s.signing.rotate();
      await s.audit.recordRequest(
        req,
        "signing.rotate",
        { type: "signing_key", id: status.activeKeyId },
        { previousKeyId: before, rootVersion: status.root.version },
      );
      return status;
    });
    route(app, routes.retire, async (req) => {
      const status = await s.signing.retire(req.params.keyId);
      await s.audit.recordRequest(
        req,
        "signing.retire",
        { type: "signing_key", id: req.params.keyId },
        { rootVersion: status.root.version },
      );
      return status;
    });
  },
  { name: "kensa-signing", dependencies: ["kensa-http"], fastify: "5.x" },
);
