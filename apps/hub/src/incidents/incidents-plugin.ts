import fp from "fastify-plugin";
import { type EventRoutesDeps, eventRoutes } from "./event-routes.js";
import { type IncidentRoutesDeps, incidentRoutes } from "./incident-routes.js";
import { incidentStreamRoutes } from "./incident-stream-routes.js";

export type IncidentsPluginOptions = EventRoutesDeps &
  IncidentRoutesDeps & {
    limits: { mediaBytes: number; clipBytes: number };
  };

/** Events and their frames and clips, incidents, verdicts, and the live incident stream. */
export const incidentsPlugin = fp<IncidentsPluginOptions>(
  async (app, opts) => {
    eventRoutes(app, opts, opts.limits);
    incidentRoutes(app, opts);
    incidentStreamRoutes(app, opts.bus);
  },
  { name: "kensa-incidents", dependencies: ["kensa-http"], fastify: "5.x" },
);
