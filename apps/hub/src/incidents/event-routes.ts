import { EventQuery, KensaError, List, StoredEvent } from "@kensa/contracts";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { callingDevice } from "../http/request-auth.js";
import type { HubServices } from "../hub-services.js";
import { clipTypes } from "./clip-service.js";

const MediaReply = Type.Object({
  eventId: Type.String(),
  sha256: Type.String(),
  size: Type.Integer(),
  linked: Type.Boolean(),
});

const ClipReply = Type.Object({
  eventId: Type.String(),
  sha256: Type.String(),
  size: Type.Integer(),
  incidentId: Type.Union([Type.String(), Type.Null()]),
});

const ClipQuery = Type.Object(
  {
    durationMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    frames: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

export function eventRoutes(
  app: FastifyInstance,
  s: HubServices,
  opts: { mediaBytes: number; clipBytes: number },
): void {
  // an incident raised before its frame or clip arrived shows it now, on every open console
  const announceIncidentOf = async (eventId: string) => {
    const incident = await s.incidents.forEvent(eventId);
    if (incident) s.bus.publish("incident.updated", { incident, previousStatus: incident.status });
    return incident;
  };
  app.get<{ Querystring: Static<typeof EventQuery> }>(
    "/api/v1/events",
    // events are what incidents are made of: whoever sees incidents sees them
    {
      schema: { querystring: EventQuery, response: { 200: List(StoredEvent) } },
      config: { permission: "incidents:read" },
    },
    async (req) => ({ items: await s.events.list(req.query) }),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/events/:id",
    {
      schema: { params: Type.Object({ id: Type.String() }), response: { 200: StoredEvent } },
      config: { permission: "incidents:read" },
    },
    async (req) => s.events.get(req.params.id),
  );

  // Its own context, so any content type reaches the handler as bytes and a wrong one is
  // answered as invalid media rather than a generic 415.
  app.register(async (media) => {
    media.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: opts.mediaBytes }, (_req, body, done) =>
      done(null, body),
    );
    media.addContentTypeParser(
      ["image/jpeg", "image/png"],
      { parseAs: "buffer", bodyLimit: opts.mediaBytes },
      (_req, body, done) => done(null, body),
    );
    media.put<{ Params: { id: string } }>(
      "/api/v1/events/:id/media",
      {
        bodyLimit: opts.mediaBytes,
        schema: {
          params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
          response: { 201: MediaReply },
        },
        // people upload media on a device's behalf only to repair data
        config: { auth: "user-or-device", permission: "devices:manage" },
      },
      async (req, reply) => {
        const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
        if (type !== "image/jpeg" && type !== "image/png") {
          throw new KensaError(
            "KENSA_ERR_MEDIA_INVALID",
            `media must be image/jpeg or image/png, not "${type || "none"}"`,
          );
        }
        const body = req.body;
        if (!Buffer.isBuffer(body) || body.byteLength === 0)
          throw new KensaError("KENSA_ERR_MEDIA_INVALID", "empty body");
        const device = callingDevice(req);
        const out = await s.events.attachMedia(device?.deviceId ?? null, req.params.id, type, body);
        if (out.linked) await announceIncidentOf(req.params.id);
        return reply.code(201).send({ eventId: req.params.id, ...out });
      },
    );
  });

  // the incident clip: a short video around the incident frame, from devices with video sources
  app.register(async (clips) => {
    // every type reaches the handler as bytes, so a wrong one is answered as invalid media
    clips.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: opts.clipBytes }, (_req, body, done) =>
      done(null, body),
    );
    clips.put<{ Params: { id: string }; Querystring: Static<typeof ClipQuery> }>(
      "/api/v1/events/:id/clip",
      {
        bodyLimit: opts.clipBytes,
        schema: {
          params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
          querystring: ClipQuery,
          response: { 201: ClipReply },
        },
        config: { auth: "user-or-device", permission: "devices:manage" },
      },
      async (req, reply) => {
        const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
        if (!(clipTypes as readonly string[]).includes(type)) {
          throw new KensaError(
            "KENSA_ERR_MEDIA_INVALID",
            `a clip must be ${clipTypes.join(" or ")}, not "${type || "none"}"`,
          );
        }
        const body = req.body;
        if (!Buffer.isBuffer(body) || body.byteLength === 0)
          throw new KensaError("KENSA_ERR_MEDIA_INVALID", "empty body");
        const device = callingDevice(req);
        const out = await s.clips.attach(device?.deviceId ?? null, req.params.id, type, body, req.query);
        const incident = await announceIncidentOf(req.params.id);
        return reply.code(201).send({ eventId: req.params.id, ...out, incidentId: incident?.id ?? null });
      },
    );
  });
}
