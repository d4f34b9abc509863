import { KensaError, List, ModelVersion } from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { HubServices } from "../hub-services.js";

export function modelRoutes(app: FastifyInstance, s: HubServices): void {
  // multipart: field `projectId`, field `manifest` (JSON), optional field `name`, file `model`
  const upload = { schema: { response: { 201: ModelVersion } }, config: { permission: "models:upload" as const } };
  app.post("/api/v1/models", upload, async (req, reply) => {
    if (!req.isMultipart()) {
      throw new KensaError(
        "KENSA_ERR_UPLOAD_MISSING_PART",
        "expected multipart/form-data with fields projectId and manifest and the file model",
      );
    }
    const fields: Record<string, string> = {};
    let bytes: Buffer | null = null;
    let filename: string | undefined;
    for await (const part of req.parts()) {
      if (part.type === "file") {
        if (part.fieldname === "model" && !bytes) {
          bytes = await part.toBuffer();
          filename = part.filename;
        } else {
          part.file.resume(); // drain parts we do not use
        }
      } else {
        fields[part.fieldname] = String(part.value);
      }
    }
    const missing = [
      fields.projectId ? null : "projectId",
      fields.manifest ? null : "manifest",
      bytes ? null : "model",
    ].filter((m): m is string => m !== null);
    if (missing.length > 0 || !bytes) {
      throw new KensaError("KENSA_ERR_UPLOAD_MISSING_PART", `missing multipart part(s): ${missing.join(", ")}`, {
        missing,
      });
    }
    const version = await s.models.register({
      projectId: fields.projectId!,
      manifest: fields.manifest!,
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      name: fields.name ?? filename?.replace(/\.onnx$/i, ""),
    });
    await s.audit.recordRequest(
      req,
      "model.upload",
      { type: "model", id: version.id },
      {
        projectId: version.projectId,
        version: version.version,
        sha256: version.sha256,
      },
    );
    return reply.code(201).send(version);
  });

  app.get<{ Querystring: { projectId?: string } }>(
    "/api/v1/models",
    {
      schema: {
        querystring: Type.Object({ projectId: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: { 200: List(ModelVersion) },
      },
      config: { permission: "models:read" },
    },
    async (req) => ({ items: await s.models.list(req.query) }),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/models/:id",
    {
      schema: { params: Type.Object({ id: Type.String() }), response: { 200: ModelVersion } },
      config: { permission: "models:read" },
    },
    async (req) => s.models.get(req.params.id),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/models/:id/file",
    { schema: { params: Type.Object({ id: Type.String() }) }, config: { permission: "models:read" } },
    async (req, reply) => {
      const { stream, size, model } = await s.models.openFile(req.params.id);
      return reply
        .type("application/octet-stream")
        .header("content-length", size)
        .header("content-disposition", `attachment; filename="${model.id}.onnx"`)
        .header("etag", `"${model.sha256}"`)
        .send(stream);
    },
  );
}
