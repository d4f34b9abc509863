import { peopleRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { route } from "../http/route.js";
import type { AuditLog } from "./audit-log.js";

export function auditRoutes(app: FastifyInstance, audit: AuditLog): void {
  route(app, routes.audit, async (req) => audit.list(req.query));
}
