import { trainingRoutes as routes, type TrainingRun } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { decidedBy } from "../http/request-auth.js";
import { route } from "../http/route.js";
import { requireJob } from "../jobs/db-job-queue.js";
import type { AuditLog } from "../people/audit-log.js";
import type { ProjectService } from "../projects/project-service.js";
import type { Training } from "./training.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
/** ms between re-reads of a streamed run (a run another hub trains sends no in-process events) */
const STREAM_POLL_MS = 2000;
/** ms between SSE comments that keep proxies from closing an idle stream */
const HEARTBEAT_MS = 15_000;

/** What these routes use of the hub. */
export interface TrainingRoutesDeps {
  audit: AuditLog;
  projects: ProjectService;
  training: Training;
}

export function trainingRoutes(app: FastifyInstance, s: TrainingRoutesDeps): void {
  const { runs, settings, queue } = s.training;
  // open event streams end when the hub closes, or closing would wait for their clients
  const streams = new Set<() => void>();
  app.addHook("preClose", (done) => {
    for (const end of streams) end();
    done();
  });

  route(app, routes.create, async (req) => {
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
    return run;
  });
  route(app, routes.listForProject, async (req) => {
    await s.projects.get(req.params.id);
    return { items: await runs.list({ ...req.query, projectId: req.params.id }) };
  });
  route(app, routes.list, async (req) => ({ items: await runs.list(req.query) }));
  route(app, routes.get, async (req) => runs.get(req.params.id));
  route(app, routes.cancel, async (req) => {
    const run = await runs.cancel(req.params.id, decidedBy(req, req.body?.by));
    await s.audit.recordRequest(req, "run.cancel", { type: "run", id: run.id }, { projectId: run.projectId });
    return run;
  });
  route(app, routes.log, async (req, reply) =>
    reply.type("text/plain; charset=utf-8").send(await runs.log(req.params.id)),
  );

  // Server-sent events: `run` with the whole run on every change, `end` once it finished.
  route(app, routes.events, async (req, reply) => {
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
    return reply;
  });

  route(app, routes.settings, async (req) => settings.get(req.params.id));
  route(app, routes.updateSettings, async (req) => {
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
  });

  route(app, routes.listJobs, async (req) => ({ items: await queue.list(req.query) }));
  route(app, routes.getJob, async (req) => requireJob(queue, req.params.id));
}
