import type { Readable } from "node:stream";
import { KensaError, workerRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { route } from "../http/route.js";
import type { RemoteJobKinds } from "../jobs/remote-job-kind.js";
import { RemoteExports } from "./remote-export.js";
import { RemoteImports } from "./remote-import.js";

/** The worker routes of dataset imports and exports, inside the worker routes' token-checked scope. */
export function registerDatasetWorkerRoutes(
  w: FastifyInstance,
  remote: RemoteJobKinds,
  holder: (req: FastifyRequest, workerId: string) => string,
  limits: { bodyBytes: number; uploadBytes: number },
): void {
  const imports = () => {
    const k = remote.kindOf("import");
    if (!(k instanceof RemoteImports))
      throw new KensaError("KENSA_ERR_VALIDATION", "this hub hands no import to workers");
    return k;
  };
  const exports = () => {
    const k = remote.kindOf("export");
    if (!(k instanceof RemoteExports))
      throw new KensaError("KENSA_ERR_VALIDATION", "this hub hands no export to workers");
    return k;
  };
  route(w, routes.importProgress, async (req) => {
    await imports().progress(req.params.id, holder(req, req.body.workerId), req.body);
    return remote.leaseReply;
  });
  route(
    w,
    routes.importResult,
    async (req) => imports().complete(req.params.id, holder(req, req.body.workerId), req.body),
    // the rows of a 100,000-image archive are tens of megabytes
    { bodyLimit: limits.bodyBytes },
  );
  // an upload streams into the blob store as it arrives (an export's archive is as large as the dataset)
  w.register(async (s) => {
    s.removeContentTypeParser("*");
    s.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
    route(s, routes.upload, async (req) => {
      const row = await remote.claims.held(req.params.id, holder(req, req.query.workerId), req.query.attempt);
      const kind = remote.kindOf(row.type);
      if (!kind) {
        throw new KensaError("KENSA_ERR_VALIDATION", `job ${row.id} is a ${row.type} job, which uploads no blob here`);
      }
      return kind.upload(limited(req.body as unknown as Readable, limits.uploadBytes), req.params.sha256);
    });
  });
  route(w, routes.exportResult, async (req) =>
    exports().complete(req.params.id, holder(req, req.body.workerId), req.body),
  );
}

/** the stream, refused with KENSA_ERR_UPLOAD_TOO_LARGE once it passes `max` bytes */
async function* limited(body: Readable, max: number): AsyncGenerator<Uint8Array> {
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new KensaError("KENSA_ERR_UPLOAD_TOO_LARGE", `the upload exceeds ${max} bytes`);
    yield chunk;
  }
}
