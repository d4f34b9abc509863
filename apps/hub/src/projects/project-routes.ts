import { projectRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import type { EventBus, HubEventMap } from "../bus/event-bus.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import { type ProjectService, toProject } from "./project-service.js";

/** What these routes use of the hub. */
export interface ProjectRoutesDeps {
  projects: ProjectService;
  audit: AuditLog;
  /** a changed incident rule is announced, so the fleet bundles it anew */
  bus: EventBus<HubEventMap>;
}

export function projectRoutes(app: FastifyInstance, d: ProjectRoutesDeps): void {
  route(app, routes.create, async (req) => {
    const project = toProject(await d.projects.create(req.body));
    await d.audit.recordRequest(req, "project.create", { type: "project", id: project.id }, { slug: project.slug });
    return project;
  });
  route(app, routes.list, async () => ({ items: (await d.projects.list()).map(toProject) }));
  route(app, routes.get, async (req) => toProject(await d.projects.get(req.params.id)));
  route(app, routes.update, async (req) => {
    const project = toProject(await d.projects.update(req.params.id, req.body));
    await d.audit.recordRequest(
      req,
      "project.update",
      { type: "project", id: project.id },
      { changed: Object.keys(req.body) },
    );
    // devices decide incidents with the rule their bundle carries
    if (req.body.rule) d.bus.publish("project.ruleChanged", { projectId: project.id });
    return project;
  });
}
