import fp from "fastify-plugin";
import type { AuditLog } from "./audit-log.js";
import { auditRoutes } from "./audit-routes.js";
import { type AuthRouteDeps, authRoutes } from "./auth-routes.js";
import { type UserRouteDeps, userRoutes } from "./user-routes.js";

export type PeoplePluginOptions = AuthRouteDeps & UserRouteDeps & { audit: AuditLog };

/** Sign-in, users, API tokens, the permission matrix and the audit log. */
export const peoplePlugin = fp<PeoplePluginOptions>(
  async (app, opts) => {
    authRoutes(app, opts);
    userRoutes(app, opts);
    auditRoutes(app, opts.audit);
  },
  { name: "kensa-people", dependencies: ["kensa-http"], fastify: "5.x" },
);
