import { ApiToken, CreatedToken, CreateToken, CreateUser, KensaError, List, UpdateUser, User } from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { callingUser, can } from "../http/request-auth.js";
import type { ApiTokenService } from "./api-token-service.js";
import type { AuditLog } from "./audit-log.js";
import type { UserService } from "./user-service.js";

const IdParams = Type.Object({ id: Type.String() });

export interface UserRouteDeps {
  users: UserService;
  tokens: ApiTokenService;
  audit: AuditLog;
}

/** Users (admin only) and API tokens (a user's own, or anyone's for users:manage). */
export function userRoutes(app: FastifyInstance, deps: UserRouteDeps): void {
  const { users, tokens, audit } = deps;

  app.get(
    "/api/v1/users",
    { schema: { response: { 200: List(User) } }, config: { permission: "users:manage" } },
    async () => ({ items: await users.list() }),
  );

  app.post<{ Body: CreateUser }>(
    "/api/v1/users",
    { schema: { body: CreateUser, response: { 201: User } }, config: { permission: "users:manage" } },
    async (req, reply) => {
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
      return reply.code(201).send(user);
    },
  );

  app.patch<{ Params: { id: string }; Body: UpdateUser }>(
    "/api/v1/users/:id",
    {
      schema: { params: IdParams, body: UpdateUser, response: { 200: User } },
      config: { permission: "users:manage" },
    },
    async (req) => {
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
    },
  );

  app.post<{ Params: { id: string }; Body: CreateToken }>(
    "/api/v1/users/:id/tokens",
    {
      schema: { params: IdParams, body: CreateToken, response: { 201: CreatedToken } },
      config: { permission: "authenticated" },
    },
    async (req, reply) => {
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
      return reply.code(201).send(created);
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/users/:id/tokens",
    {
      schema: { params: IdParams, response: { 200: List(ApiToken) } },
      config: { permission: "authenticated" },
    },
    async (req) => {
      selfOrManager(req, req.params.id);
      await users.get(req.params.id);
      return { items: await tokens.list(req.params.id) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/api/v1/tokens/:id",
    { schema: { params: IdParams }, config: { permission: "authenticated" } },
    async (req, reply) => {
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
      return reply.code(204).send();
    },
  );
}

/** A user manages their own tokens; users:manage manages everyone's. */
function selfOrManager(req: FastifyRequest, userId: string): void {
  if (callingUser(req)?.id === userId || can(req, "users:manage")) return;
  throw new KensaError("KENSA_ERR_FORBIDDEN", "only the token's user or the users:manage permission may do this", {
    permission: "users:manage",
  });
}
