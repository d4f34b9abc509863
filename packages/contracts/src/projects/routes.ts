import { Type } from "@sinclair/typebox";
import { List } from "../common.js";
import { defineRoutes } from "../route.js";
import { CreateProject, Project, UpdateProject } from "./schemas.js";

const IdParams = Type.Object({ id: Type.String() });

/** Projects: one inspection use case each, with its labels, incident rule and notifications. */
export const projectRoutes = defineRoutes({
  create: {
    method: "POST",
    path: "/api/v1/projects",
    summary: "Create a project",
    permission: "projects:manage",
    body: CreateProject,
    status: 201,
    reply: Project,
    errors: ["KENSA_ERR_PROJECT_EXISTS"],
  },
  list: {
    method: "GET",
    path: "/api/v1/projects",
    summary: "List projects",
    permission: "projects:read",
    reply: List(Project),
  },
  get: {
    method: "GET",
    path: "/api/v1/projects/:id",
    summary: "One project",
    permission: "projects:read",
    params: IdParams,
    reply: Project,
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
  update: {
    method: "PATCH",
    path: "/api/v1/projects/:id",
    summary: "Change a project's name, labels, incident rule or notifications",
    permission: "projects:manage",
    params: IdParams,
    body: UpdateProject,
    reply: Project,
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
});
