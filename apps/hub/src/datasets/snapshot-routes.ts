import { CreatedSnapshot, CreateSnapshot, List, Snapshot, SnapshotDiff } from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { decidedBy } from "../http/request-auth.js";
import type { HubServices } from "../hub-services.js";

const IdParams = Type.Object({ id: Type.String() });

export function snapshotRoutes(app: FastifyInstance, s: HubServices): void {
  const { snapshots } = s.datasets;
  // 201 for a new snapshot, 200 when the same inputs already made this one
  app.post<{ Params: { id: string }; Body: CreateSnapshot }>(
    "/api/v1/projects/:id/snapshots",
    {
      schema: { params: IdParams, body: CreateSnapshot, response: { 200: CreatedSnapshot, 201: CreatedSnapshot } },
      config: { permission: "datasets:manage" },
    },
    async (req, reply) => {
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
      return reply.code(snap.created ? 201 : 200).send(snap);
    },
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/projects/:id/snapshots",
    { schema: { params: IdParams, response: { 200: List(Snapshot) } }, config: { permission: "datasets:read" } },
    async (req) => ({ items: await snapshots.list(req.params.id) }),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/snapshots/:id",
    { schema: { params: IdParams, response: { 200: Snapshot } }, config: { permission: "datasets:read" } },
    async (req) => snapshots.get(req.params.id),
  );
  // The manifest byte for byte as hashed: a trainer may check its sha256 against the id.
  app.get<{ Params: { id: string } }>(
    "/api/v1/snapshots/:id/manifest",
    { schema: { params: IdParams }, config: { permission: "datasets:read" } },
    async (req, reply) =>
      reply
        .type("application/json")
        .header("etag", `"${req.params.id}"`)
        .header("cache-control", "private, max-age=31536000, immutable")
        .send(Buffer.from(await snapshots.manifestBytes(req.params.id))),
  );
  app.get<{ Params: { id: string; other: string } }>(
    "/api/v1/snapshots/:id/diff/:other",
    {
      schema: { params: Type.Object({ id: Type.String(), other: Type.String() }), response: { 200: SnapshotDiff } },
      config: { permission: "datasets:read" },
    },
    async (req) => snapshots.diff(req.params.id, req.params.other),
  );
}
