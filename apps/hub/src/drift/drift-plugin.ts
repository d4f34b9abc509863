import { DRIFT_MAX_WINDOW_HOURS, KensaError, parseDriftWindow, driftRoutes as routes } from "@kensa/contracts";
import fp from "fastify-plugin";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { route } from "../http/route.js";
import { DriftService } from "./drift-service.js";

export interface DriftPluginOptions {
  db: Kysely<HubDatabase>;
  /** answers KENSA_ERR_MODEL_NOT_FOUND for a model version the hub does not know */
  models: { get(id: string): Promise<unknown> };
}

/**
 * Drift in the registry: a model version's input and score histograms in the field against its
 * evaluation snapshot, with PSI (docs/monitoring.md, "Drift"). The thresholds that act on it are
 * the training trigger's (training/trigger-scheduler.ts); the gauges are system/drift-metrics.ts.
 */
export const driftPlugin = fp<DriftPluginOptions>(
  async (app, o) => {
    const drift = new DriftService(o.db);
    route(app, routes.report, async (req) => {
      const hours = parseDriftWindow(req.query.window);
      if (hours === null) {
        throw new KensaError(
          "KENSA_ERR_VALIDATION",
          `window "${req.query.window}" is not a number of hours or days ("24h", "7d") up to ${DRIFT_MAX_WINDOW_HOURS / 24}d`,
        );
      }
      await o.models.get(req.params.id);
      return drift.report(req.params.id, hours);
    });
  },
  { name: "kensa-drift", dependencies: ["kensa-http", "kensa-registry"], fastify: "5.x" },
);
