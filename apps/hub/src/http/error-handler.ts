import { type ErrorCode, errorCatalog, isKensaError, KensaError } from "@kensa/contracts";
import type { FastifyError, FastifyInstance } from "fastify";

/** Every error leaves as `{ error: { code, message, details? } }` with the catalog's status. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | KensaError | Error, req, reply) => {
    const e = toKensaError(err);
    if (e.code === "KENSA_ERR_INTERNAL") req.log.error({ err }, "request failed");
    const body: { error: { code: string; message: string; details?: unknown } } = {
      error: { code: e.code, message: e.message },
    };
    if (e.details !== undefined) body.error.details = e.details;
    return reply.code(e.status).type("application/json").send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new KensaError("KENSA_ERR_NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`);
    return reply.code(e.status).send({ error: { code: e.code, message: e.message } });
  });
}

function toKensaError(err: FastifyError | KensaError | Error): KensaError {
  if (isKensaError(err)) return err;
  const f = err as FastifyError;
  if (f.validation) {
    const issues = f.validation.map((v) => ({
      path: `/${f.validationContext ?? ""}${v.instancePath}`.replace(/\/$/, ""),
      message: v.message ?? "is invalid",
    }));
    return new KensaError("KENSA_ERR_VALIDATION", f.message, { issues });
  }
  switch (f.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
    case "FST_REQ_FILE_TOO_LARGE":
      return new KensaError("KENSA_ERR_UPLOAD_TOO_LARGE", f.message);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new KensaError("KENSA_ERR_VALIDATION", `unsupported content type: ${f.message}`);
  }
  if (typeof f.statusCode === "number" && f.statusCode >= 400 && f.statusCode < 500) {
    const code: ErrorCode = f.statusCode === 413 ? "KENSA_ERR_UPLOAD_TOO_LARGE" : "KENSA_ERR_VALIDATION";
    return new KensaError(code, f.message || errorCatalog[code].message);
  }
  return new KensaError("KENSA_ERR_INTERNAL", "internal error");
}
