import {
  CreateRun,
  Job,
  JobStatus,
  JobType,
  List,
  RunQuery,
  type TrainingRun,
  TrainingRun as TrainingRunSchema,
  TrainingSettings,
  UpdateTrainingSettings,
} from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { decidedBy } from "../http/request-auth.js";
import type { HubServices } from "../hub-services.js";
import { requireJob } from "../jobs/db-job-queue.js";

const IdParams = Type.Object({ id: Type.String() });
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
/** ms between re-reads of a streamed run (a run another hub trains sends no in-process events) */
const STREAM_POLL_MS = 2000;
/** ms between SSE comments that keep proxies from closing an idle stream */
const HEARTBEAT_MS = 15_000;

export function trainingRoutes(app: FastifyInstance, s: HubServices): void {
  const { runs, settings, queue } = s.training;
  // open event streams end when the hub closes, or closing would wait for their clients
  const streams = new Set<() => void>();
  app.addHook("preClose", (done) => {
    for (const end of streams) end();
    done();
  });

  app.post<{ Params: { id: string }; Body: CreateRun }>(
    "/api/v1/projects/:id/runs",
    {
      schema: { params: IdParams, body: CreateRun, response: { 201: TrainingRunSchema } },
      config: { permission: "runs:manage" },
    },
    async (req, reply) => {
      const by = decidedBy(req, req.body.by);
      const run = await runs.create(req.params.id, { ...req.body, by }, { type: "manual", detail: by });
      await s.audit.recordRequest(
        req,
        "run.create",
        { type: "run", id: run.id },
        {
          projectId: run.projectId,
          snapshotId: run.snapshotId,
          trainer: run.trainer.name,
        },
      );
      return reply.code(201).send(run);
    },
  );
  app.get<{ Params: { id: string }; Querystring: Omit<RunQuery, "projectId"> }>(
    "/api/v1/projects/:id/runs",
    {
      schema: {
        params: IdParams,
        querystring: Type.Omit(RunQuery, ["projectId"], { additionalProperties: false }),
        response: { 200: List(TrainingRunSchema) },
      },
      config: { permission: "runs:read" },
    },
    async (req) => {
      await s.projects.get(req.params.id);
      return { items: await runs.list({ ...req.query, projectId: req.params.id }) };
    },
  );
  app.get<{ Querystring: RunQuery }>(
    "/api/v1/runs",
    {
      schema: { querystring: RunQuery, response: { 200: List(TrainingRunSchema) } },
      config: { permission: "runs:read" },
    },
    async (req) => ({ items: await runs.list(req.query) }),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/runs/:id",
    { schema: { params: IdParams, response: { 200: TrainingRunSchema } }, config: { permission: "runs:read" } },
    async (req) => runs.get(req.params.id),
  );
  app.post<{ Params: { id: string }; Body: { by?: string } | undefined }>(
    "/api/v1/runs/:id/cancel",
    {
      schema: {
        params: IdParams,
        body: Type.Optional(
          Type.Object(
            { by: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
            { additionalProperties: false },
          ),
        ),
        response: { 200: TrainingRunSchema },
      },
      config: { permission: "runs:manage" },
    },
    async (req) => {
      const run = await runs.cancel(req.params.id, decidedBy(req, req.body?.by));
      await s.audit.recordRequest(req, "run.cancel", { type: "run", id: run.id }, { projectId: run.projectId });
      return run;
    },
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/runs/:id/log",
    { schema: { params: IdParams }, config: { permission: "runs:read" } },
    async (req, reply) => reply.type("text/plain; charset=utf-8").send(await runs.log(req.params.id)),
  );

  // Server-sent events: `run` with the whole run on every change, `end` once it finished.
  app.get<{ Params: { id: string } }>(
    "/api/v1/runs/:id/events",
    { schema: { params: IdParams }, config: { permission: "runs:read" } },
    async (req, reply) => {
      const first = await runs.get(req.params.id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      let last = "";
      let closed = false;
      const send = (run: TrainingRun) => {
        if (closed) return;
        const data = JSON.stringify(run);
        if (data !== last) {
          last = data;
          res.write(`event: run\ndata: ${data}\n\n`);
        }
        if (TERMINAL.has(run.status)) {
          res.write(`event: end\ndata: ${data}\n\n`);
          cleanup();
          res.end();
        }
      };
      const onUpdate = (run: TrainingRun) => {
        if (run.id === first.id) send(run);
      };
      const poll = setInterval(() => {
        runs.get(first.id).then(send, () => undefined);
      }, STREAM_POLL_MS);
      const beat = setInterval(() => {
        if (!closed) res.write(": keep-alive\n\n");
      }, HEARTBEAT_MS);
      const cleanup = () => {
        closed = true;
        clearInterval(poll);
        clearInterval(beat);
        s.training.runEvents.off("update", onUpdate);
        streams.delete(end);
      };
      const end = () => {
        cleanup();
        res.end();
      };
      streams.add(end);
      s.training.runEvents.on("update", onUpdate);
      req.raw.once("close", cleanup);
      send(first);
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/projects/:id/training-settings",
    { schema: { params: IdParams, response: { 200: TrainingSettings } }, config: { permission: "runs:read" } },
    async (req) => settings.get(req.params.id),
  );
  app.put<{ Params: { id: string }; Body: UpdateTrainingSettings }>(
    "/api/v1/projects/:id/training-settings",
    {
      schema: { params: IdParams, body: UpdateTrainingSettings, response: { 200: TrainingSettings } },
      config: { permission: "runs:manage" },
    },
    async (req) => {
      const next = await settings.update(req.params.id, req.body);
      await s.audit.recordRequest(
        req,
        "project.training-settings",
        { type: "project", id: req.params.id },
        {
          changed: Object.keys(req.body),
        },
      );
      return next;
    },
  );

  app.get<{ Querystring: { status?: JobStatus; type?: JobType; projectId?: string; limit: number } }>(
    "/api/v1/jobs",
    {
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(JobStatus),
            type: Type.Optional(JobType),
            projectId: Type.Optional(Type.String()),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: List(Job) },
      },
      config: { permission: "runs:read" },
    },
    async (req) => ({ items: await queue.list(req.query) }),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/jobs/:id",
    { schema: { params: IdParams, response: { 200: Job } }, config: { permission: "runs:read" } },
    async (req) => requireJob(queue, req.params.id),
  );
}
