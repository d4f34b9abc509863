import fp from "fastify-plugin";
import { type DeploymentRoutesDeps, deploymentRoutes } from "./deployment-routes.js";
import { type DeviceFrameRoutesDeps, deviceFrameRoutes } from "./device-frame-routes.js";
import { type DeviceRoutesDeps, deviceRoutes } from "./device-routes.js";

export type FleetPluginOptions = DeviceRoutesDeps & DeploymentRoutesDeps & DeviceFrameRoutesDeps;

/** Devices, enrolment, deployments and the bundles devices download, and each device's latest frame. */
export const fleetPlugin = fp<FleetPluginOptions>(
  async (app, opts) => {
    deviceRoutes(app, opts);
    deploymentRoutes(app, opts);
    deviceFrameRoutes(app, opts);
  },
  { name: "kensa-fleet", dependencies: ["kensa-http"], fastify: "5.x" },
);
