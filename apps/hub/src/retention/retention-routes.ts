import { retentionRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { LegalHoldService } from "./hold-service.js";
import type { RetentionPolicyService } from "./policy-service.js";
import type { RetentionJob } from "./retention-job.js";

/** What these routes use of the hub. */
export interface RetentionRoutesDeps {
  policies: RetentionPolicyService;
  holds: LegalHoldService;
  job: RetentionJob;
  audit: AuditLog;
}

/** Retention settings, legal holds and runs; every change is audited. */
export function retentionRoutes(app: FastifyInstance, d: RetentionRoutesDeps): void {
  route(app, routes.get, async (req) => d.policies.get(req.params.id));
  route(app, routes.set, async (req) => {
    const before = await d.policies.get(req.params.id);
    const policy = await d.policies.set(req.params.id, req.body, actorOf(req).actor);
    await d.audit.recordRequest(
      req,
      "retention.set",
      { type: "project", id: policy.projectId },
      { before: before.override, after: policy.override },
    );
    return policy;
  });
  route(app, routes.holds, async (req) => ({ items: await d.holds.list(req.params.id) }));
  route(app, routes.hold, async (req) => {
    const hold = await d.holds.create(req.params.id, req.body, actorOf(req).actor);
    await d.audit.recordRequest(
      req,
      "legal_hold.create",
      { type: "legal_hold", id: hold.id },
      { projectId: hold.projectId, scope: hold.scope, targetId: hold.targetId, reason: hold.reason },
    );
    return hold;
  });
  route(app, routes.release, async (req) => {
    const hold = await d.holds.release(req.params.id, actorOf(req).actor);
    await d.audit.recordRequest(
      req,
      "legal_hold.release",
      { type: "legal_hold", id: hold.id },
      { projectId: hold.projectId, scope: hold.scope, targetId: hold.targetId },
    );
    return hold;
  });
  route(app, routes.runs, async (req) => ({ items: await d.job.list(req.query.limit ?? 20) }));
  route(app, routes.run, async () => {
    const run = await d.job.run("request");
    // a requested run either runs or throws KENSA_ERR_RETENTION_BUSY
    return run!;
  });
}
