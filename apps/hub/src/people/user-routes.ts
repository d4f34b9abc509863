import { KensaError, peopleRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { callingUser, can } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { ApiTokenService } from "./api-token-service.js";
import type { AuditLog } from "./audit-log.js";
import type { UserService } from "./user-service.js";

export interface UserRouteDeps {
  users: UserService;
  tokens: ApiTokenService;
  audit: AuditLog;
}

/** Users (admin only) and API tokens (a user's own, or anyone's for users:manage). */
export function userRoutes(app: FastifyInstance, deps: UserRouteDeps): void {
  const { users, tokens, audit } = deps;

  route(app, routes.listUsers, async () => ({ items: await users.list() }));

  route(app, routes.createUser, async (req) => {
    const user = await users.create(req.body);
    await audit.recordRequest(
      req,
      "user.create",
      { type: "user", id: user.id },
      {
        username: user.username,
        role: user.role,
      },
    );
    return user;
  });

  route(app, routes.updateUser, async (req) => {
    const { before, after } = await users.update(req.params.id, req.body);
    const target = { type: "user", id: after.id };
    const who = { username: after.username };
    if (before.role !== after.role) {
      await audit.recordRequest(req, "user.role_change", target, { ...who, from: before.role, to: after.role });
    }
    if (before.disabled !== after.disabled) {
      await audit.recordRequest(req, after.disabled ? "user.disable" : "user.enable", target, who);
    }
    if (req.body.password !== undefined) await audit.recordRequest(req, "user.password_change", target, who);
    if (before.displayName !== after.displayName) {
      await audit.recordRequest(req, "user.update", target, { ...who, displayName: after.displayName });
    }
    return after;
  });

  route(app, routes.createToken, async (req) => {
    selfOrManager(req, req.params.id);
    const user = await users.get(req.params.id);
    const created = await tokens.create(user.id, req.body.name);
    await audit.recordRequest(
      req,
      "token.create",
      { type: "token", id: created.id },
      {
        userId: user.id,
        username: user.username,
        name: created.name,
      },
    );
    return created;
  });

  route(app, routes.listTokens, async (req) => {
    selfOrManager(req, req.params.id);
    await users.get(req.params.id);
    return { items: await tokens.list(req.params.id) };
  });

  route(app, routes.revokeToken, async (req) => {
    const token = await tokens.get(req.params.id);
    selfOrManager(req, token.userId);
    await tokens.revoke(token.id);
    await audit.recordRequest(
      req,
      "token.revoke",
      { type: "token", id: token.id },
      {
        userId: token.userId,
        name: token.name,
      },
    );
  });
}

/** A user manages their own tokens; users:manage manages everyone's. */
function selfOrManager(req: FastifyRequest, userId: string): void {
  if (callingUser(req)?.id === userId || can(req, "users:manage")) return;
  throw new KensaError("KENSA_ERR_FORBIDDEN", "only the token's user or the users:manage permission may do this", {
    permission: "users:manage",
  });
}
