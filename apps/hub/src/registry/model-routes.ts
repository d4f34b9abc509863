import { KensaError, registryRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { ModelService } from "./model-service.js";

/** What these routes use of the hub. */
export interface ModelRoutesDeps {
  audit: AuditLog;
  models: ModelService;
}

export function modelRoutes(app: FastifyInstance, s: ModelRoutesDeps): void {
  // multipart: field `projectId`, field `manifest` (JSON), optional field `name`, file `model`
  route(app, routes.upload, async (req) => {
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
    return version;
  });

  route(app, routes.list, async (req) => ({ items: await s.models.list(req.query) }));
  route(app, routes.get, async (req) => s.models.get(req.params.id));
  route(app, routes.download, async (req, reply) => {
    const { stream, size, model } = await s.models.openFile(req.params.id);
    return reply
      .type("application/octet-stream")
      .header("content-length", size)
      .header("content-disposition", `attachment; filename="${model.id}.onnx"`)
      .header("etag", `"${model.sha256}"`)
      .send(stream);
  });
}
