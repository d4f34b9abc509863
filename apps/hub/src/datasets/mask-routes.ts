import { KensaError, datasetRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { MetadataStore } from "../db/open-database.js";
import { route } from "../http/route.js";
import type { Datasets } from "./datasets.js";
import { decodeMask, encodeMask } from "./masks.js";

/** What these routes use of the hub. */
export interface MaskRoutesDeps {
  blobs: BlobStore;
  datasets: Datasets;
  store: MetadataStore;
}

/**
 * Masks drawn in the console: uploaded as PNGs before the label revision that names them, and
 * read back by anyone who may read samples — only masks some label revision names, so this
 * route never hands out other blobs (models) to people without models:read.
 */
export function maskRoutes(app: FastifyInstance, s: MaskRoutesDeps, opts: { maxBytes: number }): void {
  const { samples } = s.datasets;
  route(app, routes.uploadMask, async (req) => {
    const sample = await samples.get(req.params.id);
    if (!sample.image) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `sample ${sample.id} has no image yet`);
    if (!req.isMultipart())
      throw new KensaError("KENSA_ERR_UPLOAD_MISSING_PART", "expected multipart with a file mask");
    let bytes: Buffer | null = null;
    for await (const part of req.parts({ limits: { fileSize: opts.maxBytes } })) {
      if (part.type === "file" && part.fieldname === "mask") bytes = await part.toBuffer();
      else if (part.type === "file") await part.toBuffer();
    }
    if (!bytes) throw new KensaError("KENSA_ERR_UPLOAD_MISSING_PART", "missing multipart file part: mask");
    const mask = await decodeMask(bytes).catch((err: Error) => {
      if (err instanceof KensaError && err.code === "KENSA_ERR_IMAGE_TOO_LARGE") throw err;
      throw new KensaError("KENSA_ERR_MEDIA_INVALID", `the mask is not a decodable PNG: ${err.message}`);
    });
    const { width, height } = sample.image;
    if (mask.width !== width || mask.height !== height) {
      throw new KensaError(
        "KENSA_ERR_MEDIA_INVALID",
        `the mask is ${mask.width}×${mask.height} but the image is ${width}×${height}`,
      );
    }
    const { sha256 } = await s.blobs.put(await encodeMask(mask));
    return { sha256, width, height };
  });

  route(app, routes.getMask, async (req, reply) => {
    const named = await s.store.db
      .selectFrom("label_revisions")
      .select("id")
      .where("content", "like", `%"mask":"${req.params.sha}"%`)
      .executeTakeFirst();
    const blob = named ? await s.blobs.stream(req.params.sha) : null;
    if (!blob) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `no mask ${req.params.sha}`);
    return reply
      .type("image/png")
      .header("content-length", blob.size)
      .header("cache-control", "private, max-age=31536000, immutable")
      .send(blob.stream);
  });
}
