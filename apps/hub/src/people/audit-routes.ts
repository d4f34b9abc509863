import { AuditPage, AuditQuery } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import type { AuditLog } from "./audit-log.js";

export function auditRoutes(app: FastifyInstance, audit: AuditLog): void {
  app.get<{ Querystring: AuditQuery }>(
    "/api/v1/audit",
    { schema: { querystring: AuditQuery, response: { 200: AuditPage } }, config: { permission: "audit:read" } },
    async (req) => audit.list(req.query),
  );
}
