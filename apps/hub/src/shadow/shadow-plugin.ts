import { shadowRoutes as routes } from "@kensa/contracts";
import fp from "fastify-plugin";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { route } from "../http/route.js";
import { shadowAgreementFor } from "./shadow-agreement-aggregate.js";

export interface ShadowPluginOptions {
  db: Kysely<HubDatabase>;
  /** answers KENSA_ERR_MODEL_NOT_FOUND for a model version the hub does not know */
  models: { get(id: string): Promise<unknown> };
}

/**
 * Shadow agreement in the registry: a challenger's agreement with each champion it ran beside,
 * over the fleet. The figures are written by the ingest of reported states
 * (shadow-agreement-store.ts); a rollout gate reads them with `shadowAgreementFor`.
 */
export const shadowPlugin = fp<ShadowPluginOptions>(
  async (app, o) => {
    route(app, routes.agreement, async (req) => {
      await o.models.get(req.params.id);
      return shadowAgreementFor(o.db, {
        challengerModelVersionId: req.params.id,
        ...(req.query.since ? { since: req.query.since } : {}),
      });
    });
  },
  { name: "kensa-shadow", dependencies: ["kensa-http", "kensa-registry"], fastify: "5.x" },
);
