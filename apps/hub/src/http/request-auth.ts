import { createHash, timingSafeEqual } from "node:crypto";
import {
  type ActorKind,
  CSRF_HEADER,
  isKensaError,
  KensaError,
  type Permission,
  ROLE_PERMISSIONS,
  type Role,
  type RouteAccess,
  type RouteAuth,
  type User,
} from "@kensa/contracts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RouteCatalog } from "./route-catalog.js";
import { readCookie } from "./session-cookie.js";

/**
 * Which credentials a route takes (its table says): people (users by session cookie or API
 * token, and the bootstrap admin token), devices (Basic id:secret), either, or none. People are
 * then held to the route's `permission`.
 */
export type AuthMode = RouteAuth;
export type { RouteAccess };

export type Principal =
  /** the bootstrap admin token: acts as the admin role */
  | { kind: "admin" }
  | { kind: "user"; user: User; via: "session" | "token"; tokenId: string | null }
  | ({ kind: "device" } & DevicePrincipal);

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthMode;
    /** undeclared: admin only (default deny) */
    permission?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** The actor the audit log names for the bootstrap admin token; no user may take this name. */
export const ADMIN_TOKEN_ACTOR = "admin-token";

/** A device that proved its secret. */
export interface DevicePrincipal {
  deviceId: string;
  projectId: string;
}

/**
 * What authentication asks of the features that own credentials (ports): people resolve
 * sessions and API tokens, the fleet verifies device secrets.
 */
export interface AuthDeps {
  adminToken: string;
  /** `from` is the caller's address (failed attempts are throttled per device and per address) */
  devices: { verify(deviceId: string, secret: string, from: string): Promise<DevicePrincipal | null> };
  sessions: { resolve(cookie: string): Promise<User | null> };
  tokens: { resolve(token: string): Promise<{ user: User; tokenId: string } | null> };
  catalog: RouteCatalog;
}

const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Authenticates every routed request per its `config.auth` and checks its `config.permission`,
 * in onRequest — before body parsing, so a refused upload is refused before its bytes are read.
 */
export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  const adminDigest = digest(deps.adminToken);
  app.decorateRequest("principal", null);
  app.addHook("onRoute", (route) => deps.catalog.add(route));
  app.addHook("onRequest", async (req, reply) => {
    // unmatched routes fall through to the 404 handler
    if (!req.routeOptions.url) return;
    const config = req.routeOptions.config;
    const mode = normalize(config.auth);
    if (mode === "public") return;
    const principal = await authenticate(req, mode, deps, adminDigest).catch((err: unknown) => {
      throw withRetryAfter(reply, err);
    });
    req.principal = principal;
    // a device's reach (its own data, its project) is checked by the handlers
    if (principal.kind === "device") return;
    if (principal.kind === "user" && principal.via === "session" && UNSAFE_METHODS.has(req.method)) {
      if (req.headers[CSRF_HEADER] !== "1") {
        throw new KensaError(
          "KENSA_ERR_CSRF_HEADER_MISSING",
          `send the header ${CSRF_HEADER}: 1 with writes authenticated by the session cookie`,
        );
      }
    }
    const need = config.permission;
    if (need === "authenticated") return;
    const role = roleOf(principal);
    if (need === undefined) {
      if (role !== "admin") throw new KensaError("KENSA_ERR_FORBIDDEN", "this route is for admins");
      return;
    }
    if (!ROLE_PERMISSIONS[role].includes(need)) {
      throw new KensaError("KENSA_ERR_FORBIDDEN", `the ${role} role lacks the permission ${need}`, {
        permission: need,
        role,
      });
    }
  });
}

async function authenticate(
  req: FastifyRequest,
  mode: "user" | "device" | "user-or-device",
  deps: AuthDeps,
  adminDigest: Buffer,
): Promise<Principal> {
  const header = req.headers.authorization ?? "";
  if (header.startsWith("Bearer ")) {
    if (mode === "device") throw new KensaError("KENSA_ERR_FORBIDDEN", "this route is for devices");
    const token = header.slice(7).trim();
    if (timingSafeEqual(digest(token), adminDigest)) return { kind: "admin" };
    const found = await deps.tokens.resolve(token);
    if (found) return { kind: "user", user: found.user, via: "token", tokenId: found.tokenId };
    throw new KensaError("KENSA_ERR_UNAUTHORIZED", "invalid or revoked token");
  }
  if (header.startsWith("Basic ")) {
    if (mode === "user") throw new KensaError("KENSA_ERR_FORBIDDEN", "this route is for people, not devices");
    const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const [id, secret] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    const device = colon > 0 ? await deps.devices.verify(id, secret, req.ip) : null;
    if (!device) throw new KensaError("KENSA_ERR_UNAUTHORIZED", "invalid device credentials");
    return { kind: "device", ...device };
  }
  const cookie = mode === "device" ? null : readCookie(req.headers.cookie);
  if (cookie) {
    const user = await deps.sessions.resolve(cookie);
    if (!user) throw new KensaError("KENSA_ERR_UNAUTHORIZED", "the session expired or was ended; sign in again");
    return { kind: "user", user, via: "session", tokenId: null };
  }
  throw new KensaError(
    "KENSA_ERR_UNAUTHORIZED",
    mode === "device"
      ? "device credentials required (Basic <deviceId>:<secret>)"
      : "sign in, or send a token (Authorization: Bearer <token>)",
  );
}

/** A throttled device answers 429 with Retry-After (seconds), as a throttled sign-in does. */
function withRetryAfter(reply: FastifyReply, err: unknown): unknown {
  if (isKensaError(err) && err.code === "KENSA_ERR_DEVICE_AUTH_THROTTLED") {
    const seconds = (err.details as { retryAfterSec?: number } | undefined)?.retryAfterSec;
    if (seconds !== undefined) reply.header("retry-after", String(seconds));
  }
  return err;
}

function normalize(mode: AuthMode | undefined): AuthMode {
  return mode ?? "user";
}

/** The device calling, or null for a person. */
export function callingDevice(req: FastifyRequest): DevicePrincipal | null {
  return req.principal?.kind === "device" ? req.principal : null;
}

/** The signed-in user (session or API token), or null for the admin token, a device or nobody. */
export function callingUser(req: FastifyRequest): User | null {
  return req.principal?.kind === "user" ? req.principal.user : null;
}

/** The role a person acts with; null for devices and anonymous requests. */
export function roleOf(principal: Principal | null): Role {
  if (principal?.kind === "admin") return "admin";
  if (principal?.kind === "user") return principal.user.role;
  throw new KensaError("KENSA_ERR_FORBIDDEN", "only people hold roles");
}

/** Whether the calling person holds `permission` (false for devices and nobody). */
export function can(req: FastifyRequest, permission: Permission): boolean {
  const p = req.principal;
  if (!p || p.kind === "device") return false;
  return ROLE_PERMISSIONS[roleOf(p)].includes(permission);
}

/** Who the audit log names for this request. */
/**
 * The sites a caller may see site data of: a person's scope (docs/permissions.md, "Site
 * scope"), or null (every site) for unscoped people, the admin token and devices.
 */
export function siteScopeOf(req: Pick<FastifyRequest, "principal">): string[] | null {
  const p = req.principal;
  return p?.kind === "user" ? (p.user.sites ?? null) : null;
}

export function actorOf(req: Pick<FastifyRequest, "principal">): { actor: string; actorKind: ActorKind } {
  const p = req.principal;
  if (p?.kind === "admin") return { actor: ADMIN_TOKEN_ACTOR, actorKind: "admin-token" };
  if (p?.kind === "user") return { actor: p.user.username, actorKind: "user" };
  if (p?.kind === "device") return { actor: p.deviceId, actorKind: "device" };
  return { actor: "anonymous", actorKind: "anonymous" };
}

/**
 * Who a person's decision is recorded as: a user is always their username (whatever the body
 * says); only the bootstrap admin token may name someone else, e.g. the demo's simulated reviewer.
 */
export function decidedBy(req: FastifyRequest, given: string | undefined): string {
  const p = req.principal;
  if (p?.kind === "user") return p.user.username;
  return given ?? actorOf(req).actor;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}
