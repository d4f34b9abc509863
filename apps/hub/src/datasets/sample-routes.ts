import {
  CaptureQuery,
  CaptureReply,
  CreateLabelRevision,
  DatasetStats,
  KensaError,
  LabelingQueue,
  LabelingQueueQuery,
  List,
  Sample,
  SampleQuery,
  SampleWithHistory,
  UploadSampleQuery,
} from "@kensa/contracts";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { callingDevice, decidedBy } from "../http/request-auth.js";
import type { HubServices } from "../hub-services.js";

const IdParams = Type.Object({ id: Type.String() });
const CaptureParams = Type.Object({ captureId: Type.String({ pattern: "^[A-Za-z0-9_.:-]{8,64}$" }) });

/** Samples, labels, the labeling queue and device captures. */
export function sampleRoutes(app: FastifyInstance, s: HubServices, opts: { mediaBytes: number }): void {
  const { samples } = s.datasets;
  app.get<{ Params: { id: string }; Querystring: SampleQuery }>(
    "/api/v1/projects/:id/samples",
    {
      schema: { params: IdParams, querystring: SampleQuery, response: { 200: List(Sample) } },
      config: { permission: "samples:read" },
    },
    async (req) => ({ items: await samples.list(req.params.id, req.query) }),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/samples/:id",
    { schema: { params: IdParams, response: { 200: SampleWithHistory } }, config: { permission: "samples:read" } },
    async (req) => samples.get(req.params.id),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/samples/:id/image",
    { schema: { params: IdParams }, config: { permission: "samples:read" } },
    async (req, reply) => {
      const img = await samples.image(req.params.id);
      const blob = await s.blobs.stream(img.sha256);
      if (!blob) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `image ${img.sha256} is missing from the blob store`);
      return reply
        .type(img.contentType)
        .header("content-length", blob.size)
        .header("etag", `"${img.sha256}"`)
        .send(blob.stream);
    },
  );
  app.post<{ Params: { id: string }; Body: CreateLabelRevision }>(
    "/api/v1/samples/:id/labels",
    {
      schema: { params: IdParams, body: CreateLabelRevision, response: { 201: SampleWithHistory } },
      config: { permission: "samples:label" },
    },
    async (req, reply) =>
      reply.code(201).send(await samples.addRevision(req.params.id, { ...req.body, by: decidedBy(req, req.body.by) })),
  );
  app.get<{ Params: { id: string }; Querystring: Static<typeof LabelingQueueQuery> }>(
    "/api/v1/projects/:id/labeling-queue",
    {
      schema: { params: IdParams, querystring: LabelingQueueQuery, response: { 200: LabelingQueue } },
      config: { permission: "samples:read" },
    },
    async (req) => samples.queue(req.params.id, req.query.limit),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/projects/:id/dataset-stats",
    { schema: { params: IdParams, response: { 200: DatasetStats } }, config: { permission: "samples:read" } },
    async (req) => samples.stats(req.params.id),
  );

  // Image bodies: their own context, so any content type reaches the handler as bytes and a
  // wrong one is answered as invalid media, not a generic 415.
  app.register(async (media) => {
    media.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: opts.mediaBytes }, (_req, body, done) =>
      done(null, body),
    );
    media.post<{ Params: { id: string }; Querystring: UploadSampleQuery }>(
      "/api/v1/projects/:id/samples",
      {
        bodyLimit: opts.mediaBytes,
        schema: { params: IdParams, querystring: UploadSampleQuery, response: { 201: Sample } },
        config: { permission: "datasets:manage" },
      },
      async (req, reply) => {
        const query = { ...req.query, by: decidedBy(req, req.query.by) };
        return reply.code(201).send(await samples.upload(req.params.id, imageBody(req), query));
      },
    );
    // A device keeps a frame for learning; idempotent per capture id, so retries are safe.
    media.put<{ Params: { captureId: string }; Querystring: CaptureQuery }>(
      "/api/v1/captures/:captureId",
      {
        bodyLimit: opts.mediaBytes,
        schema: {
          params: CaptureParams,
          querystring: CaptureQuery,
          response: { 200: CaptureReply, 201: CaptureReply },
        },
        config: { auth: "user-or-device", permission: "datasets:manage" },
      },
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
        return reply.code(out.created ? 201 : 200).send(out);
      },
    );
  });
}

function imageBody(req: FastifyRequest): Uint8Array {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "image/jpeg" && type !== "image/png") {
    throw new KensaError("KENSA_ERR_MEDIA_INVALID", `images must be image/jpeg or image/png, not "${type || "none"}"`);
  }
  const body = req.body;
  if (!Buffer.isBuffer(body) || body.byteLength === 0) throw new KensaError("KENSA_ERR_MEDIA_INVALID", "empty body");
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}
