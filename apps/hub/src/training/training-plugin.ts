import fp from "fastify-plugin";
import { type TrainingRoutesDeps, trainingRoutes } from "./training-routes.js";

/** Training runs, their live progress and logs, the job queue, and each project's training settings. */
export const trainingPlugin = fp<TrainingRoutesDeps>(async (app, opts) => trainingRoutes(app, opts), {
  name: "kensa-training",
  dependencies: ["kensa-http"],
  fastify: "5.x",
});
