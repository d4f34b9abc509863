import { referenceRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { decidedBy } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { Datasets } from "./datasets.js";
import { imageBody } from "./sample-routes.js";

/** What these routes use of the hub. */
export interface ReferenceRoutesDeps {
  datasets: Datasets;
  audit: AuditLog;
}

/** A project's golden references (reference-image inspection). */
export function referenceRoutes(app: FastifyInstance, d: ReferenceRoutesDeps, opts: { mediaBytes: number }): void {
  const { references } = d.datasets;
  route(app, routes.listReferences, async (req) => ({ items: await references.list(req.params.id) }));
  route(app, routes.removeReference, async (req) => {
    await references.remove(req.params.id, req.params.key);
    await d.audit.recordRequest(
      req,
      "project.reference.remove",
      { type: "project", id: req.params.id },
      { key: req.params.key },
    );
  });
  // an image body: its own context, so any content type reaches the handler as bytes
  app.register(async (media) => {
    media.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: opts.mediaBytes }, (_req, body, done) =>
      done(null, body),
    );
    route(
      media,
      routes.addReference,
      async (req) => {
        const ref = await references.add(req.params.id, imageBody(req), {
          ...req.query,
          by: decidedBy(req, undefined),
        });
        await d.audit.recordRequest(
          req,
          "project.reference.add",
          { type: "project", id: req.params.id },
          { key: ref.key, sha256: ref.sha256, isDefault: ref.isDefault },
        );
        return ref;
      },
      { bodyLimit: opts.mediaBytes },
    );
  });
}
