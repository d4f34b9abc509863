import { KensaError, fleetRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isSha256 } from "../blobstore/blob-store.js";
import type { MetadataStore } from "../db/open-database.js";
import { callingDevice } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { DeploymentService } from "./deployment-service.js";

/** What these routes use of the hub. */
export interface DeploymentRoutesDeps {
  audit: AuditLog;
  blobs: BlobStore;
  deployments: DeploymentService;
  store: MetadataStore;
}

export function deploymentRoutes(app: FastifyInstance, s: DeploymentRoutesDeps): void {
  route(app, routes.createDeployment, async (req) => {
    const deployment = await s.deployments.create(req.body);
    await s.audit.recordRequest(
      req,
      "deployment.create",
      { type: "deployment", id: deployment.id },
      {
        projectId: deployment.projectId,
        modelVersionId: deployment.modelVersionId,
        pipeline: deployment.pipeline,
        deviceIds: deployment.deviceIds,
      },
    );
    return deployment;
  });
  route(app, routes.listDeployments, async (req) => ({ items: await s.deployments.list(req.query) }));

  // Bundle manifests, byte for byte as hashed: the agent checks the sha256 of what it receives.
  route(app, routes.getBundle, async (req, reply) => {
    const { sha } = req.params;
    const device = callingDevice(req);
    const row = isSha256(sha)
      ? await s.store.db.selectFrom("bundles").select(["project_id"]).where("sha256", "=", sha).executeTakeFirst()
      : undefined;
    if (!row || (device && device.projectId !== row.project_id)) {
      throw new KensaError("KENSA_ERR_BUNDLE_NOT_FOUND", `no bundle ${sha}`);
    }
    const bytes = await s.blobs.get(sha);
    if (!bytes) throw new KensaError("KENSA_ERR_BUNDLE_NOT_FOUND", `bundle ${sha} is missing from the blob store`);
    return reply.type("application/json").header("etag", `"${sha}"`).send(Buffer.from(bytes));
  });

  // Blobs are streamed as stored, not re-hashed on every read: the agent verifies what it gets.
  route(app, routes.getBlob, async (req, reply) => {
    const { sha } = req.params;
    const device = callingDevice(req);
    // A device may fetch only its own project's models and bundles, never other media.
    if (device && isSha256(sha)) {
      const model = await s.store.db
        .selectFrom("model_versions")
        .select("id")
        .where("sha256", "=", sha)
        .where("project_id", "=", device.projectId)
        .executeTakeFirst();
      const bundle = model
        ? model
        : await s.store.db
            .selectFrom("bundles")
            .select("sha256")
            .where("sha256", "=", sha)
            .where("project_id", "=", device.projectId)
            .executeTakeFirst();
      if (!bundle) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `no blob ${sha}`);
    }
    const blob = await s.blobs.stream(sha);
    if (!blob) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `no blob ${sha}`);
    return reply
      .type("application/octet-stream")
      .header("content-length", blob.size)
      .header("etag", `"${sha}"`)
      .header("cache-control", "private, max-age=31536000, immutable")
      .send(blob.stream);
  });
}
