import fp from "fastify-plugin";
import { type SystemRoutesDeps, systemRoutes } from "./system-routes.js";

/** Health and the hub's counts. */
export const systemPlugin = fp<SystemRoutesDeps>(async (app, opts) => systemRoutes(app, opts), {
  name: "kensa-system",
  dependencies: ["kensa-http"],
  fastify: "5.x",
});
