import { Device, EnrollDevice, EnrolledDevice, List } from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { HubServices } from "../hub-services.js";

export function deviceRoutes(app: FastifyInstance, s: HubServices): void {
  app.post<{ Body: EnrollDevice }>(
    "/api/v1/devices",
    { schema: { body: EnrollDevice, response: { 201: EnrolledDevice } }, config: { permission: "devices:manage" } },
    async (req, reply) => {
      const enrolled = await s.devices.enroll(req.body);
      await s.audit.recordRequest(
        req,
        "device.enroll",
        { type: "device", id: enrolled.device.id },
        {
          projectId: enrolled.device.projectId,
        },
      );
      return reply.code(201).send(enrolled);
    },
  );
  app.get<{ Querystring: { projectId?: string } }>(
    "/api/v1/devices",
    {
      schema: {
        querystring: Type.Object({ projectId: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: { 200: List(Device) },
      },
      config: { permission: "devices:read" },
    },
    async (req) => ({ items: await s.devices.list(req.query) }),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/devices/:id",
    {
      schema: { params: Type.Object({ id: Type.String() }), response: { 200: Device } },
      config: { permission: "devices:read" },
    },
    async (req) => s.devices.get(req.params.id),
  );
}
