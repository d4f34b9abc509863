import {
  Approval,
  Champion,
  CreateEvaluation,
  Decide,
  DecideReply,
  Evaluation,
  GateReport,
  KensaError,
  List,
  ModelDetails,
  RunGate,
} from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { decidedBy } from "../http/request-auth.js";
import type { HubServices } from "../hub-services.js";

const IdParams = Type.Object({ id: Type.String() });

export function registryRoutes(app: FastifyInstance, s: HubServices): void {
  const { evaluations, gate, registry } = s.training;

  app.post<{ Params: { id: string }; Body: CreateEvaluation | undefined }>(
    "/api/v1/models/:id/evaluations",
    {
      schema: {
        params: IdParams,
        body: Type.Optional(CreateEvaluation),
        response: { 202: Evaluation, 200: Evaluation },
      },
      config: { permission: "runs:manage" },
    },
    async (req, reply) => {
      const ev = await evaluations.request(req.params.id, req.body?.snapshotId);
      return reply.code(ev.status === "succeeded" ? 200 : 202).send(ev);
    },
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/models/:id/evaluations",
    { schema: { params: IdParams, response: { 200: List(Evaluation) } }, config: { permission: "models:read" } },
    async (req) => ({ items: await evaluations.list(req.params.id) }),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/evaluations/:id",
    { schema: { params: IdParams, response: { 200: Evaluation } }, config: { permission: "models:read" } },
    async (req) => evaluations.get(req.params.id),
  );

  app.post<{ Params: { id: string }; Body: RunGate | undefined }>(
    "/api/v1/models/:id/gate",
    {
      schema: {
        params: IdParams,
        body: Type.Optional(RunGate),
        response: { 202: Type.Object({ jobId: Type.String() }) },
      },
      // the gate may approve the model, so asking for it takes the right to approve
      config: { permission: "models:approve" },
    },
    async (req, reply) => {
      const queued = await gate.request(req.params.id, req.body?.snapshotId);
      await s.audit.recordRequest(req, "model.gate", { type: "model", id: req.params.id }, { jobId: queued.jobId });
      return reply.code(202).send(queued);
    },
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/models/:id/gate",
    { schema: { params: IdParams, response: { 200: GateReport } }, config: { permission: "models:read" } },
    async (req) => {
      await s.models.get(req.params.id);
      const report = await registry.gate(req.params.id);
      if (!report) {
        throw new KensaError(
          "KENSA_ERR_GATE_NOT_FOUND",
          `model version ${req.params.id} has not been through the gate`,
        );
      }
      return report;
    },
  );

  for (const action of ["approve", "reject", "archive"] as const) {
    app.post<{ Params: { id: string }; Body: Decide }>(
      `/api/v1/models/:id/${action}`,
      {
        schema: { params: IdParams, body: Decide, response: { 200: DecideReply } },
        config: { permission: "models:approve" },
      },
      async (req) => {
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
      },
    );
  }
  app.get<{ Params: { id: string } }>(
    "/api/v1/models/:id/approvals",
    { schema: { params: IdParams, response: { 200: List(Approval) } }, config: { permission: "models:read" } },
    async (req) => {
      await s.models.get(req.params.id);
      return { items: await registry.approvals(req.params.id) };
    },
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/models/:id/details",
    { schema: { params: IdParams, response: { 200: ModelDetails } }, config: { permission: "models:read" } },
    async (req) => registry.details(req.params.id),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/models/:id/card",
    { schema: { params: IdParams }, config: { permission: "models:read" } },
    async (req, reply) => reply.type("text/markdown; charset=utf-8").send(await registry.card(req.params.id)),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/projects/:id/champion",
    { schema: { params: IdParams, response: { 200: Champion } }, config: { permission: "models:read" } },
    async (req) => {
      await s.projects.get(req.params.id);
      return s.training.settings.champion(req.params.id);
    },
  );
}
