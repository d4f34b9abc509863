import { CreateVerdict, Incident, IncidentQuery, KensaError, List, Notification, Verdict } from "@kensa/contracts";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { HubServices } from "../hub-services.js";

const IdParams = Type.Object({ id: Type.String() });
const NotificationQuery = Type.Object(
  {
    incidentId: Type.Optional(Type.String()),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);

export function incidentRoutes(app: FastifyInstance, s: HubServices): void {
  app.get<{ Querystring: Static<typeof IncidentQuery> }>(
    "/api/v1/incidents",
    { schema: { querystring: IncidentQuery, response: { 200: List(Incident) } } },
    async (req) => ({ items: await s.incidents.list(req.query) }),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/incidents/:id",
    { schema: { params: IdParams, response: { 200: Incident } } },
    async (req) => s.incidents.get(req.params.id),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/incidents/:id/media",
    { schema: { params: IdParams } },
    async (req, reply) => {
      const incident = await s.incidents.get(req.params.id);
      const media = await s.events.mediaOf(incident.eventId);
      const blob = media ? await s.blobs.stream(media.sha256) : null;
      if (!media || !blob)
        throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `incident ${incident.id} has no media (yet)`);
      return reply.type(media.contentType).header("content-length", blob.size).send(blob.stream);
    },
  );
  app.post<{ Params: { id: string }; Body: CreateVerdict }>(
    "/api/v1/incidents/:id/verdict",
    { schema: { params: IdParams, body: CreateVerdict, response: { 201: Verdict } } },
    async (req, reply) => reply.code(201).send(await s.verdicts.create(req.params.id, req.body)),
  );
  app.get<{ Querystring: Static<typeof NotificationQuery> }>(
    "/api/v1/notifications",
    { schema: { querystring: NotificationQuery, response: { 200: List(Notification) } } },
    async (req) => ({ items: await s.notifications.list(req.query) }),
  );
}
