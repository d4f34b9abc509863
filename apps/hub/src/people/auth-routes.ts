import { CSRF_HEADER, KensaError, PERMISSIONS, peopleRoutes, permissionsOf, ROLES, type Role } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { route } from "../http/route.js";
import { clearedSessionCookie, readCookie, sessionCookie } from "../http/session-cookie.js";
import type { AuditLog } from "./audit-log.js";
import type { LoginThrottle } from "./login-throttle.js";
import type { SessionService } from "./session-service.js";
import { sessionOf, toSessionUser, type UserService } from "./user-service.js";

export interface AuthRouteDeps {
  users: UserService;
  sessions: SessionService;
  audit: AuditLog;
  throttle: LoginThrottle;
  /** add `Secure` to the cookie (the hub is reached over https) */
  secureCookie: boolean;
}

/** Console sign-in and sign-out, who am I, and the permission matrix. */
export function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): void {
  const { users, sessions, audit, throttle } = deps;

  route(app, peopleRoutes.login, async (req, reply) => {
    const username = req.body.username.trim().toLowerCase();
    const failed = (reason: string) =>
      audit.record({
        actor: username,
        actorKind: "anonymous",
        action: "auth.login_failed",
        target: { type: "user", id: null },
        details: { reason },
        ip: req.ip,
      });
    const waitMs = await throttle.retryAfterMs(username, req.ip);
    if (waitMs > 0) {
      await failed("throttled");
      const seconds = Math.ceil(waitMs / 1000);
      reply.header("retry-after", String(seconds));
      throw new KensaError(
        "KENSA_ERR_LOGIN_THROTTLED",
        `too many failed sign-ins for this user from this address; try again in ${seconds} s`,
        { retryAfterSec: seconds },
      );
    }
    const out = await users.authenticate(username, req.body.password);
    if (!out.user) {
      await throttle.failed(username, req.ip);
      await failed(out.reason);
      // one message for every failure: the reply must not tell which usernames exist
      throw new KensaError("KENSA_ERR_UNAUTHORIZED", "invalid username or password");
    }
    await throttle.succeeded(username, req.ip);
    const { token } = await sessions.create(out.user.id, req.ip);
    await audit.record({
      actor: out.user.username,
      actorKind: "user",
      action: "auth.login",
      target: { type: "user", id: out.user.id },
      ip: req.ip,
    });
    reply.header("set-cookie", sessionCookie(token, { secure: deps.secureCookie, maxAgeSec: sessions.ttlMs / 1000 }));
    return { user: toSessionUser(out.user), permissions: permissionsOf(out.user.role) };
  });

  // Public so a console whose session already expired can still clear its cookie.
  route(app, peopleRoutes.logout, async (req, reply) => {
    const token = readCookie(req.headers.cookie);
    if (token) {
      if (req.headers[CSRF_HEADER] !== "1") {
        throw new KensaError("KENSA_ERR_CSRF_HEADER_MISSING", `send the header ${CSRF_HEADER}: 1 to sign out`);
      }
      const user = await sessions.resolve(token);
      await sessions.revoke(token);
      if (user) {
        await audit.record({
          actor: user.username,
          actorKind: "user",
          action: "auth.logout",
          target: { type: "user", id: user.id },
          ip: req.ip,
        });
      }
    }
    reply.header("set-cookie", clearedSessionCookie({ secure: deps.secureCookie }));
  });

  route(app, peopleRoutes.me, async (req) => sessionOf(req));

  route(app, peopleRoutes.permissions, async () => ({
    permissions: [...PERMISSIONS],
    roles: Object.fromEntries(ROLES.map((r) => [r, permissionsOf(r)])) as Record<
      Role,
      ReturnType<typeof permissionsOf>
    >,
  }));
}
