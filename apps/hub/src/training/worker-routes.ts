import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { KensaError, workerRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { registerDatasetWorkerRoutes } from "../datasets/remote-dataset-routes.js";
import { route } from "../http/route.js";
import { remoteHolder } from "../jobs/remote-claims.js";
import type { RemoteTraining } from "./remote-training.js";

export interface WorkerRoutesDeps {
  remote: RemoteTraining;
  /** bytes; the largest output a worker may upload (the model upload limit) */
  outputBytes: number;
  /** bytes; the largest blob an import or export job may upload (an export's archive); outputBytes when omitted */
  uploadBytes?: number;
}

const tokenOf = new WeakMap<FastifyRequest, string>();

/**
 * The routes `kensa worker` calls. They are "public" to the people/device authentication and
 * take a worker token instead, checked here before any body is read; the listing of workers is
 * for admins.
 */
export function workerRoutes(app: FastifyInstance, d: WorkerRoutesDeps): void {
  const { remote } = d;
  route(app, routes.list, async () => ({ items: remote.list() }));

  app.register(async (w) => {
    w.addHook("onRequest", async (req) => {
      tokenOf.set(req, remote.tokens.verify(req.headers.authorization));
    });
    w.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: d.outputBytes }, (_req, body, done) =>
      done(null, body),
    );
    const token = (req: FastifyRequest) => tokenOf.get(req)!;
    const holder = (req: FastifyRequest, workerId: string) => remoteHolder(token(req), workerId);

    route(w, routes.hello, async (req) => {
      remote.hello(token(req), req.body);
      return remote.leaseReply;
    });
    route(w, routes.claim, async (req) => remote.claim(token(req), req.body));
    route(w, routes.renew, async (req) => {
      await remote.renew(req.params.id, holder(req, req.body.workerId), req.body.attempt);
      return remote.leaseReply;
    });
    route(w, routes.progress, async (req) => {
      await remote.progress(req.params.id, holder(req, req.body.workerId), req.body);
    });
    route(w, routes.file, async (req, reply) => {
      const path = await remote.file(
        req.params.id,
        holder(req, req.query.workerId),
        req.query.attempt,
        req.params.name,
      );
      const info = await stat(path).catch(() => null);
      if (!info?.isFile()) {
        throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `job ${req.params.id} has no input ${req.params.name}`);
      }
      return reply
        .type("application/octet-stream")
        .header("content-length", String(info.size))
        .send(createReadStream(path));
    });
    route(
      w,
      routes.output,
      async (req) =>
        remote.output(req.params.id, holder(req, req.query.workerId), req.query.attempt, req.body as Uint8Array),
      { bodyLimit: d.outputBytes },
    );
    route(w, routes.complete, async (req) =>
      remote.outcomes.complete(req.params.id, holder(req, req.body.workerId), req.body),
    );
    route(w, routes.fail, async (req) => {
      const h = holder(req, req.body.workerId);
      const row = await remote.claims.held(req.params.id, h, req.body.attempt);
      const ended = { workerId: req.body.workerId, attempt: req.body.attempt, error: req.body.error };
      const kind = remote.kindOf(row.type);
      if (kind) await kind.fail(req.params.id, h, req.body.attempt, req.body.error);
      else if (row.type === "evaluate") await remote.evaluation.complete(req.params.id, h, { ...ended, metrics: null });
      else if (row.type === "backtest") {
        await remote.backtests.complete(req.params.id, h, { ...ended, report: null, frames: [] });
      } else await remote.outcomes.fail(req.params.id, h, req.body.attempt, req.body);
    });
    route(w, routes.release, async (req) => {
      const h = holder(req, req.body.workerId);
      const row = await remote.claims.held(req.params.id, h, req.body.attempt);
      const kind = remote.kindOf(row.type);
      if (kind) await kind.release(req.params.id, h, req.body.attempt);
      else if (row.type === "evaluate") await remote.evaluation.release(req.params.id, h, req.body.attempt);
      else if (row.type === "backtest") await remote.backtests.release(req.params.id, h, req.body.attempt);
      else await remote.outcomes.release(req.params.id, h, req.body.attempt);
    });
    route(w, routes.blob, async (req, reply) => {
      const { stream, size } = await remote.blob(
        req.params.id,
        holder(req, req.query.workerId),
        req.query.attempt,
        req.params.sha256,
      );
      return reply.type("application/octet-stream").header("content-length", String(size)).send(stream);
    });
    route(
      w,
      routes.evaluation,
      async (req) => remote.evaluation.complete(req.params.id, holder(req, req.body.workerId), req.body),
      // per-sample outcomes of a large test split outgrow the JSON limit
      { bodyLimit: d.outputBytes },
    );
    registerDatasetWorkerRoutes(w, remote, holder, {
      bodyBytes: d.outputBytes,
      uploadBytes: d.uploadBytes ?? d.outputBytes,
    });
    route(
      w,
      routes.backtest,
      async (req) => remote.backtests.complete(req.params.id, holder(req, req.body.workerId), req.body),
      // the frames of a 10,000-frame backtest are megabytes
      { bodyLimit: d.outputBytes },
    );
  });
}
