import { KensaError, registryRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { decidedBy } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { ProjectService } from "../projects/project-service.js";
import type { EvaluationService } from "./evaluation/evaluation-service.js";
import type { GateService } from "./gate-service.js";
import type { ModelService } from "./model-service.js";
import type { ModelPolicy } from "./ports.js";
import type { RegistryService } from "./registry-service.js";

/** What these routes use of the hub. */
export interface RegistryRoutesDeps {
  audit: AuditLog;
  models: ModelService;
  projects: ProjectService;
  evaluations: EvaluationService;
  gate: GateService;
  registry: RegistryService;
  /** the project's champion */
  policy: ModelPolicy;
}

export function registryRoutes(app: FastifyInstance, s: RegistryRoutesDeps): void {
  const { evaluations, gate, registry } = s;

  route(app, routes.evaluate, async (req, reply) => {
    const ev = await evaluations.request(req.params.id, req.body?.snapshotId);
    if (ev.status !== "succeeded") return ev;
    // a stored result answers 200 (with the 202's body schema) rather than "queued"
    return reply.code(200).type("application/json; charset=utf-8").send(reply.serializeInput(ev, "202"));
  });
  route(app, routes.listEvaluations, async (req) => ({ items: await evaluations.list(req.params.id) }));
  route(app, routes.getEvaluation, async (req) => evaluations.get(req.params.id));

  route(app, routes.runGate, async (req) => {
    const queued = await gate.request(req.params.id, req.body?.snapshotId);
    await s.audit.recordRequest(req, "model.gate", { type: "model", id: req.params.id }, { jobId: queued.jobId });
    return queued;
  });
  route(app, routes.gate, async (req) => {
    await s.models.get(req.params.id);
    const report = await registry.gate(req.params.id);
    if (!report) {
      throw new KensaError("KENSA_ERR_GATE_NOT_FOUND", `model version ${req.params.id} has not been through the gate`);
    }
    return report;
  });

  for (const action of ["approve", "reject", "archive"] as const) {
    route(app, routes[action], async (req) => {
      const by = decidedBy(req, req.body.by);
      const out = await registry.decide(req.params.id, action, { ...req.body, by });
      await s.audit.recordRequest(
        req,
        `model.${action}`,
        { type: "model", id: out.model.id },
        {
          projectId: out.model.projectId,
          reason: req.body.reason,
          stage: out.model.stage,
          deploymentId: out.deployment?.id ?? null,
        },
      );
      return out;
    });
  }
  route(app, routes.approvals, async (req) => {
    await s.models.get(req.params.id);
    return { items: await registry.approvals(req.params.id) };
  });
  route(app, routes.details, async (req) => registry.details(req.params.id));
  route(app, routes.card, async (req, reply) =>
    reply.type("text/markdown; charset=utf-8").send(await registry.card(req.params.id)),
  );
  route(app, routes.champion, async (req) => {
    await s.projects.get(req.params.id);
    return s.policy.champion(req.params.id);
  });
}
