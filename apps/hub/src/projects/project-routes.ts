import { CreateProject, List, Project, UpdateProject } from "@kensa/contracts";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { HubServices } from "../hub-services.js";
import { toProject } from "./project-service.js";

const IdParams = Type.Object({ id: Type.String() });

export function projectRoutes(app: FastifyInstance, s: HubServices): void {
  app.post<{ Body: CreateProject }>(
    "/api/v1/projects",
    { schema: { body: CreateProject, response: { 201: Project } }, config: { permission: "projects:manage" } },
    async (req, reply) => {
      const project = toProject(await s.projects.create(req.body));
      await s.audit.recordRequest(req, "project.create", { type: "project", id: project.id }, { slug: project.slug });
      return reply.code(201).send(project);
    },
  );
  app.get(
    "/api/v1/projects",
    { schema: { response: { 200: List(Project) } }, config: { permission: "projects:read" } },
    async () => ({ items: (await s.projects.list()).map(toProject) }),
  );
  app.get<{ Params: { id: string } }>(
    "/api/v1/projects/:id",
    { schema: { params: IdParams, response: { 200: Project } }, config: { permission: "projects:read" } },
    async (req) => toProject(await s.projects.get(req.params.id)),
  );
  app.patch<{ Params: { id: string }; Body: UpdateProject }>(
    "/api/v1/projects/:id",
    {
      schema: { params: IdParams, body: UpdateProject, response: { 200: Project } },
      config: { permission: "projects:manage" },
    },
    async (req) => {
      const project = toProject(await s.projects.update(req.params.id, req.body));
      await s.audit.recordRequest(
        req,
        "project.update",
        { type: "project", id: project.id },
        {
          changed: Object.keys(req.body),
        },
      );
      return project;
    },
  );
}
