import fp from "fastify-plugin";
import { type ProjectRoutesDeps, projectRoutes } from "./project-routes.js";

/** Projects: their labels, incident rule and notification routing. */
export const projectsPlugin = fp<ProjectRoutesDeps>(async (app, opts) => projectRoutes(app, opts), {
  name: "kensa-projects",
  dependencies: ["kensa-http"],
  fastify: "5.x",
});
