import { KensaError, fleetRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isSha256 } from "../blobstore/blob-store.js";
import type { MetadataStore } from "../db/open-database.js";
import { callingDevice } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import { sendBlob } from "./blob-download.js";
import { pinnedByProjectBundle } from "./bundle-target-store.js";
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
  route(app, routes.deploymentTargets, async (req) => s.deployments.targets(req.params.id));

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
    // a store handing out presigned URLs: the device downloads straight from storage
    const bundleUrl = s.blobs.presignGet ? await s.blobs.presignGet(sha) : null;
    if (bundleUrl) return reply.redirect(bundleUrl, 302);
    // streamed (no whole-file buffer), with Range for a resumed download
    if (!(await sendBlob(req, reply, s.blobs, sha, "application/json"))) {
      throw new KensaError("KENSA_ERR_BUNDLE_NOT_FOUND", `bundle ${sha} is missing from the blob store`);
    }
    return reply;
  });

  // Blobs are streamed, whole or one range (a resumed download), through the store's integrity checks.
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
      // or a file one of its project's bundles pins: an int8 model, a golden frame
      const pinned = bundle ? true : await pinnedByProjectBundle(s.store.db, sha, device.projectId);
      if (!pinned) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `no blob ${sha}`);
    }
    const blobUrl = s.blobs.presignGet ? await s.blobs.presignGet(sha) : null;
    if (blobUrl) return reply.redirect(blobUrl, 302);
    if (!(await sendBlob(req, reply, s.blobs, sha, "application/octet-stream"))) {
      throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `no blob ${sha}`);
    }
    return reply;
  });
}
