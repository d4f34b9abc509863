import fp from "fastify-plugin";
import { type ModelRoutesDeps, modelRoutes } from "./model-routes.js";
import { type RegistryRoutesDeps, registryRoutes } from "./registry-routes.js";

export type RegistryPluginOptions = ModelRoutesDeps & RegistryRoutesDeps;

/** Model versions, evaluations, the gate, approvals, model cards and each project's champion. */
export const registryPlugin = fp<RegistryPluginOptions>(
  async (app, opts) => {
    modelRoutes(app, opts);
    registryRoutes(app, opts);
  },
  { name: "kensa-registry", dependencies: ["kensa-http"], fastify: "5.x" },
);
