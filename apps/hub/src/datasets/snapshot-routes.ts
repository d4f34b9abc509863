import { CreatedSnapshot, datasetRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { decidedBy } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { Datasets } from "./datasets.js";

/** What these routes use of the hub. */
export interface SnapshotRoutesDeps {
  audit: AuditLog;
  datasets: Datasets;
}

export function snapshotRoutes(app: FastifyInstance, s: SnapshotRoutesDeps): void {
  const { snapshots } = s.datasets;
  // 201 for a new snapshot, 200 when the same inputs already made this one
  route(app, routes.createSnapshot, async (req, reply) => {
    const snap = await snapshots.create(req.params.id, { ...req.body, by: decidedBy(req, req.body.by) });
    await s.audit.recordRequest(
      req,
      "dataset.snapshot",
      { type: "snapshot", id: snap.id },
      {
        projectId: req.params.id,
        created: snap.created,
        sampleCount: snap.sampleCount,
      },
    );
    if (!snap.created) {
      reply
        .code(200)
        .type("application/json; charset=utf-8")
        .serializer(reply.compileSerializationSchema(CreatedSnapshot, "200"));
    }
    return snap;
  });
  route(app, routes.listSnapshots, async (req) => ({ items: await snapshots.list(req.params.id) }));
  route(app, routes.getSnapshot, async (req) => snapshots.get(req.params.id));
  // The manifest byte for byte as hashed: a trainer may check its sha256 against the id.
  route(app, routes.snapshotManifest, async (req, reply) =>
    reply
      .type("application/json")
      .header("etag", `"${req.params.id}"`)
      .header("cache-control", "private, max-age=31536000, immutable")
      .send(Buffer.from(await snapshots.manifestBytes(req.params.id))),
  );
  route(app, routes.diffSnapshots, async (req) => snapshots.diff(req.params.id, req.params.other));
}
