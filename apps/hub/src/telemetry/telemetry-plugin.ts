import { telemetryRoutes as routes } from "@kensa/contracts";
import fp from "fastify-plugin";
import type { Registry } from "prom-client";
import { route } from "../http/route.js";
import type { TelemetryHistory } from "./telemetry-history.js";
import { registerTelemetryMetrics } from "./telemetry-metrics.js";
import { deviceTelemetry, fleetTelemetry } from "./telemetry-queries.js";

export interface TelemetryPluginOptions {
  history: TelemetryHistory;
  /** to answer KENSA_ERR_DEVICE_NOT_FOUND for a device the hub does not know */
  devices: { get(id: string): Promise<unknown> };
  /** the hub's metrics, whose registry the history's counters join */
  metrics: { registry: Registry };
}

/**
 * Telemetry history: a device's points over a range and the fleet's recent sparklines. The
 * history's timers run while the hub listens; its last points are written when the app closes
 * (the hub also stops it before its database closes).
 */
export const telemetryPlugin = fp<TelemetryPluginOptions>(
  async (app, o) => {
    route(app, routes.deviceTelemetry, async (req) => {
      await o.devices.get(req.params.id);
      return deviceTelemetry(o.history, req.params.id, req.query);
    });
    route(app, routes.fleetTelemetry, async (req) => fleetTelemetry(o.history, req.query));
    registerTelemetryMetrics(o.metrics.registry, o.history);
    app.addHook("onListen", async () => o.history.start());
  },
  { name: "kensa-telemetry", dependencies: ["kensa-http"], fastify: "5.x" },
);
