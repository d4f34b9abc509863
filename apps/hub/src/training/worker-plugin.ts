import fp from "fastify-plugin";
import { type WorkerRoutesDeps, workerRoutes } from "./worker-routes.js";

/** The routes of `kensa worker` (training and evaluation on other machines). */
export const workerPlugin = fp<WorkerRoutesDeps>(async (app, opts) => workerRoutes(app, opts), {
  name: "kensa-workers",
  dependencies: ["kensa-http"],
  fastify: "5.x",
});
