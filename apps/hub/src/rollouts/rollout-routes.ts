import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { rolloutRoutes as routes } from "@kensa/contracts";
import fp from "fastify-plugin";
import type { RolloutConfig } from "../config/rollout-config.js";
import { actorOf } from "../http/request-auth.js";
import { route } from "../http/route.js";
import { NamedLease } from "../jobs/named-lease.js";
import type { RolloutService } from "./rollout-service.js";
import { RolloutTicker } from "./rollout-ticker.js";

export interface RolloutPluginOptions {
  rollouts: RolloutService;
  db: ConstructorParameters<typeof NamedLease>[0];
  config: RolloutConfig;
  /** this replica's name for the lease; random when not given */
  holder?: string;
}

/**
 * Staged rollouts: the routes, and the ticker that judges running waves once the hub listens
 * (one replica at a time, under the `rollouts` lease). Every action is audited by the service.
 */
export const rolloutPlugin = fp<RolloutPluginOptions>(
  async (app, o) => {
    const s = o.rollouts;
    route(app, routes.createRollout, async (req) => s.create(req.body, actorOf(req)));
    route(app, routes.listRollouts, async (req) => ({ items: await s.list(req.query) }));
    route(app, routes.getRollout, async (req) => s.get(req.params.id));
    route(app, routes.pauseRollout, async (req) => s.pause(req.params.id, actorOf(req), req.body.reason));
    route(app, routes.resumeRollout, async (req) => s.resume(req.params.id, actorOf(req), req.body.reason));
    route(app, routes.promoteRollout, async (req) => s.promote(req.params.id, actorOf(req), req.body.reason));
    route(app, routes.rollbackRollout, async (req) => s.rollback(req.params.id, actorOf(req), req.body.reason));
    route(app, routes.abortRollout, async (req) => s.abort(req.params.id, actorOf(req), req.body.reason));

    const holder = o.holder ?? `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
    const tickMs = o.config.tickSeconds * 1000;
    const lease = new NamedLease(o.db, { name: "rollouts", holder, ttlMs: Math.max(30_000, 3 * tickMs) });
    const ticker = new RolloutTicker({ rollouts: s, lease, intervalMs: tickMs, log: app.log });
    app.decorate("rolloutTicker", ticker);
    app.addHook("onListen", async () => ticker.start());
    app.addHook("onClose", async () => ticker.stop());
  },
  { name: "kensa-rollouts", dependencies: ["kensa-http"], fastify: "5.x" },
);

declare module "fastify" {
  interface FastifyInstance {
    /** judges running rollouts' waves (tests call `tick()` to not wait for the interval) */
    rolloutTicker: RolloutTicker;
  }
}
