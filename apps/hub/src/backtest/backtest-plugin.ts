import { backtestRoutes as routes } from "@kensa/contracts";
import fp from "fastify-plugin";
import { decidedBy } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { Backtests } from "./backtest.js";

export interface BacktestPluginOptions {
  backtests: Backtests;
  audit: AuditLog;
}

/**
 * Backtests of candidate models on archived frames. The worker claims backtest jobs while the
 * hub listens, and has finished (or handed its job back to the queue) before the database closes.
 */
export const backtestPlugin = fp<BacktestPluginOptions>(
  async (app, o) => {
    const { service, worker } = o.backtests;
    route(app, routes.create, async (req) => {
      const bt = await service.request(req.params.id, req.body, decidedBy(req, undefined));
      await o.audit.recordRequest(
        req,
        "model.backtest",
        { type: "model", id: bt.modelVersionId },
        { projectId: bt.projectId, backtestId: bt.id, jobId: bt.jobId, ...bt.request },
      );
      return bt;
    });
    route(app, routes.list, async (req) => ({ items: await service.list(req.params.id, req.query) }));
    route(app, routes.get, async (req) => service.store.get(req.params.id));
    route(app, routes.frames, async (req) => {
      const frames = await service.store.frames(req.params.id);
      const picked = req.query.change ? frames.filter((f) => f.change === req.query.change) : frames;
      return { items: picked.slice(0, req.query.limit) };
    });
    app.addHook("onListen", async () => worker.start());
    app.addHook("onClose", async () => worker.stop());
  },
  { name: "kensa-backtest", dependencies: ["kensa-http", "kensa-registry"], fastify: "5.x" },
);

export { type Backtests, createBacktests } from "./backtest.js";
