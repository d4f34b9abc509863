import { CaptureReply, KensaError, datasetRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { DeviceService } from "../fleet/device-service.js";
import { callingDevice, decidedBy } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { Datasets } from "./datasets.js";

/** What these routes use of the hub. */
export interface SampleRoutesDeps {
  blobs: BlobStore;
  datasets: Datasets;
  devices: DeviceService;
}

/** Samples, labels, the labeling queue and device captures. */
export function sampleRoutes(app: FastifyInstance, s: SampleRoutesDeps, opts: { mediaBytes: number }): void {
  const { samples } = s.datasets;
  route(app, routes.listSamples, async (req) => ({ items: await samples.list(req.params.id, req.query) }));
  route(app, routes.getSample, async (req) => samples.get(req.params.id));
  route(app, routes.sampleImage, async (req, reply) => {
    const img = await samples.image(req.params.id);
    const blob = await s.blobs.stream(img.sha256);
    if (!blob) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `image ${img.sha256} is missing from the blob store`);
    return reply
      .type(img.contentType)
      .header("content-length", blob.size)
      .header("etag", `"${img.sha256}"`)
      .send(blob.stream);
  });
  route(app, routes.addLabel, async (req) =>
    samples.addRevision(req.params.id, { ...req.body, by: decidedBy(req, req.body.by) }),
  );
  route(app, routes.labelingQueue, async (req) => samples.queue(req.params.id, req.query.limit));
  route(app, routes.stats, async (req) => samples.stats(req.params.id));

  // Image bodies: their own context, so any content type reaches the handler as bytes and a
  // wrong one is answered as invalid media, not a generic 415.
  app.register(async (media) => {
    media.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: opts.mediaBytes }, (_req, body, done) =>
      done(null, body),
    );
    route(
      media,
      routes.uploadSample,
      async (req) => {
        const query = { ...req.query, by: decidedBy(req, req.query.by) };
        return samples.upload(req.params.id, imageBody(req), query);
      },
      { bodyLimit: opts.mediaBytes },
    );
    // A device keeps a frame for learning; idempotent per capture id, so retries are safe.
    route(
      media,
      routes.capture,
      async (req, reply) => {
        const device = callingDevice(req);
        let who: { deviceId: string; projectId: string };
        if (device) {
          if (req.query.deviceId && req.query.deviceId !== device.deviceId) {
            throw new KensaError("KENSA_ERR_FORBIDDEN", "a device captures only for itself");
          }
          who = { deviceId: device.deviceId, projectId: device.projectId };
        } else {
          if (!req.query.deviceId) {
            throw new KensaError("KENSA_ERR_VALIDATION", "the admin must name the device: ?deviceId=", {
              issues: [{ path: "/querystring/deviceId", message: "required for the admin" }],
            });
          }
          const d = await s.devices.get(req.query.deviceId);
          who = { deviceId: d.id, projectId: d.projectId };
        }
        const out = await samples.capture(who, req.params.captureId, imageBody(req), req.query);
        // a capture already kept answers 200, serialized by the same schema as a new one
        if (!out.created) {
          reply
            .code(200)
            .type("application/json; charset=utf-8")
            .serializer(reply.compileSerializationSchema(CaptureReply, "200"));
        }
        return out;
      },
      { bodyLimit: opts.mediaBytes },
    );
  });
}

export function imageBody(req: FastifyRequest): Uint8Array {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "image/jpeg" && type !== "image/png") {
    throw new KensaError("KENSA_ERR_MEDIA_INVALID", `images must be image/jpeg or image/png, not "${type || "none"}"`);
  }
  const body = req.body;
  if (!Buffer.isBuffer(body) || body.byteLength === 0) throw new KensaError("KENSA_ERR_MEDIA_INVALID", "empty body");
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}
