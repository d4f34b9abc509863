import type { Readable } from "node:stream";
import { DatasetImport, KensaError, datasetRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { decidedBy } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { Datasets } from "./datasets.js";

/** What these routes use of the hub. */
export interface DatasetTransferRoutesDeps {
  audit: AuditLog;
  datasets: Datasets;
}

/** Dataset import (an archive upload, run as a job) and export (a streamed archive). */
export function datasetTransferRoutes(app: FastifyInstance, s: DatasetTransferRoutesDeps): void {
  const { imports, exports, exportJobs } = s.datasets;
  route(app, routes.getImport, async (req) => imports.get(req.params.id));
  route(app, routes.listImports, async (req) => ({ items: await imports.list(req.params.id) }));
  route(app, routes.export, async (req, reply) => {
    const out = await exports.open(req.params.id, req.query);
    return reply
      .type(out.contentType)
      .header("content-disposition", `attachment; filename="${out.filename}"`)
      .send(out.stream);
  });
  route(app, routes.startExport, async (req) => {
    const exp = await exportJobs.start(req.params.id, req.body);
    await s.audit.recordRequest(
      req,
      "dataset.export",
      { type: "export", id: exp.id },
      {
        projectId: exp.projectId,
        format: exp.query.format,
        snapshot: exp.query.snapshot ?? null,
      },
    );
    return exp;
  });
  route(app, routes.getExport, async (req) => exportJobs.get(req.params.id));
  route(app, routes.downloadExport, async (req, reply) => {
    const out = await exportJobs.download(req.params.id);
    return reply
      .type(out.contentType)
      .header("content-length", String(out.size))
      .header("content-disposition", `attachment; filename="${out.filename}"`)
      .send(out.stream);
  });
  // queued exports are built by a job worker of their own while the hub listens
  app.addHook("onListen", async () => exportJobs.startWorker());
  app.addHook("onClose", async () => exportJobs.stopWorker());

  // The archive streams to a temp file as it arrives (the import service enforces the size
  // limit), so a large dataset never sits in memory.
  app.register(async (upload) => {
    upload.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
    // 202 while the import runs, 200 once it finished (`wait`)
    route(upload, routes.startImport, async (req, reply) => {
      if (!req.body)
        throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "the upload is empty: send the archive as the body");
      const options = { ...req.query, by: decidedBy(req, req.query.by) };
      // this scope's parser hands the body on as the request stream, not as bytes
      const job = await imports.start(req.params.id, options, req.body as unknown as Readable);
      await s.audit.recordRequest(
        req,
        "dataset.import",
        { type: "import", id: job.id },
        {
          projectId: req.params.id,
          format: job.format,
          status: job.status,
        },
      );
      if (job.status !== "running") {
        reply
          .code(200)
          .type("application/json; charset=utf-8")
          .serializer(reply.compileSerializationSchema(DatasetImport, "200"));
      }
      return job;
    });
  });
}
