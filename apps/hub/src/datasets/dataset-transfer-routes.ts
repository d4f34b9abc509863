import type { Readable } from "node:stream";
import { DatasetImport, ExportQuery, ImportOptions, KensaError, List } from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { decidedBy } from "../http/request-auth.js";
import type { HubServices } from "../hub-services.js";

const IdParams = Type.Object({ id: Type.String() });

/** Dataset import (an archive upload, run as a job) and export (a streamed archive). */
export function datasetTransferRoutes(app: FastifyInstance, s: HubServices): void {
  const { imports, exports } = s.datasets;
  app.get<{ Params: { id: string } }>(
    "/api/v1/imports/:id",
    { schema: { params: IdParams, response: { 200: DatasetImport } }, config: { permission: "datasets:read" } },
    async (req) => imports.get(req.params.id),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/projects/:id/imports",
    { schema: { params: IdParams, response: { 200: List(DatasetImport) } }, config: { permission: "datasets:read" } },
    async (req) => ({ items: await imports.list(req.params.id) }),
  );
  app.get<{ Params: { id: string }; Querystring: ExportQuery }>(
    "/api/v1/projects/:id/export",
    { schema: { params: IdParams, querystring: ExportQuery }, config: { permission: "datasets:manage" } },
    async (req, reply) => {
      const out = await exports.open(req.params.id, req.query);
      return reply
        .type(out.contentType)
        .header("content-disposition", `attachment; filename="${out.filename}"`)
        .send(out.stream);
    },
  );

  // The archive streams to a temp file as it arrives (the import service enforces the size
  // limit), so a large dataset never sits in memory.
  app.register(async (upload) => {
    upload.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
    upload.post<{ Params: { id: string }; Querystring: ImportOptions }>(
      "/api/v1/projects/:id/imports",
      {
        schema: {
          params: IdParams,
          querystring: ImportOptions,
          response: { 200: DatasetImport, 202: DatasetImport },
        },
        config: { permission: "datasets:manage" },
      },
      async (req, reply) => {
        if (!req.body)
          throw new KensaError("KENSA_ERR_ARCHIVE_INVALID", "the upload is empty: send the archive as the body");
        const options = { ...req.query, by: decidedBy(req, req.query.by) };
        const job = await imports.start(req.params.id, options, req.body as Readable);
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
        return reply.code(job.status === "running" ? 202 : 200).send(job);
      },
    );
  });
}
