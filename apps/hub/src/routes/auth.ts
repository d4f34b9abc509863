import { createHash, timingSafeEqual } from "node:crypto";
import { KensaError } from "@kensa/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { DeviceAuth, DevicePrincipal } from "../services/device-auth.js";

/** Who may call a route: the admin token, a device's Basic credentials, either, or anyone. */
export type AuthMode = "admin" | "device" | "admin-or-device" | "public";

export type Principal = { kind: "admin" } | ({ kind: "device" } & DevicePrincipal);

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthMode;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * Authenticates every routed request per its `config.auth` (admin by default) before body
 * parsing, so an unauthenticated upload is refused before its bytes are read.
 */
export function registerAuth(app: FastifyInstance, opts: { adminToken: string; devices: DeviceAuth }): void {
  const adminDigest = digest(opts.adminToken);
  app.decorateRequest("principal", null);
  app.addHook("onRequest", async (req) => {
    // unmatched routes fall through to the 404 handler
    if (!req.routeOptions.url) return;
    const mode: AuthMode = req.routeOptions.config.auth ?? "admin";
    if (mode === "public") return;
    const header = req.headers.authorization ?? "";
    if (header.startsWith("Bearer ") && mode !== "device") {
      if (timingSafeEqual(digest(header.slice(7).trim()), adminDigest)) {
        req.principal = { kind: "admin" };
        return;
      }
      throw new KensaError("KENSA_ERR_UNAUTHORIZED", "invalid admin token");
    }
    if (header.startsWith("Basic ") && mode !== "admin") {
      const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      const device = colon > 0 ? await opts.devices.verify(decoded.slice(0, colon), decoded.slice(colon + 1)) : null;
      if (!device) throw new KensaError("KENSA_ERR_UNAUTHORIZED", "invalid device credentials");
      req.principal = { kind: "device", ...device };
      return;
    }
    if (header.startsWith("Basic ") || header.startsWith("Bearer ")) {
      throw new KensaError(
        "KENSA_ERR_FORBIDDEN",
        mode === "admin" ? "this route needs the admin token" : "this route is for devices",
      );
    }
    throw new KensaError(
      "KENSA_ERR_UNAUTHORIZED",
      mode === "device"
        ? "device credentials required (Basic <deviceId>:<secret>)"
        : "an admin token is required (Authorization: Bearer <token>)",
    );
  });
}

/** The device calling, or null for the admin. */
export function callingDevice(req: FastifyRequest): DevicePrincipal | null {
  return req.principal?.kind === "device" ? req.principal : null;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}
