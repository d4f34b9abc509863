import { isKensaError, peopleRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "./audit-log.js";

/** ms between anchors of the chain's head (another is written when the hub stops) */
export const ANCHOR_INTERVAL_MS = 5 * 60_000;

/**
 * The audit log's routes, and what keeps it whole while the hub runs: every refused call (401
 * or 403 on a route that takes credentials) is offered to the rate-limited refusal log, and the
 * chain's head is anchored every ANCHOR_INTERVAL_MS and once more at close.
 */
export function auditRoutes(app: FastifyInstance, audit: AuditLog, anchorIntervalMs = ANCHOR_INTERVAL_MS): void {
  route(app, routes.audit, async (req) => audit.list(req.query));
  route(app, routes.auditVerify, async () => audit.verify());

  // onError sees errors thrown by the authentication hook as well as by handlers
  app.addHook("onError", async (req, _reply, err) => {
    if (!isKensaError(err) || (err.status !== 401 && err.status !== 403)) return;
    if (!req.routeOptions.url || req.routeOptions.config.auth === "public") return;
    audit.refusals.offer({
      action: "http.refused",
      ...actorOf(req),
      ip: req.ip,
      target: { type: "route", id: `${req.method} ${req.routeOptions.url}` },
      details: { status: err.status, code: err.code, path: req.url.split("?")[0]!.slice(0, 256) },
    });
  });

  let timer: NodeJS.Timeout | null = null;
  const anchor = (when: string) =>
    audit.anchor().then(
      (a) => {
        if (a) app.log.info({ seq: a.seq, hash: a.hash, at: a.at, sig: a.sig }, `audit chain anchored (${when})`);
      },
      (err: unknown) => app.log.error({ err }, "the audit chain's head could not be anchored"),
    );
  app.addHook("onReady", async () => {
    audit.refusals.start(app.log);
    timer = setInterval(() => void anchor("periodic"), anchorIntervalMs);
    timer.unref();
  });
  app.addHook("onClose", async () => {
    if (timer) clearInterval(timer);
    timer = null;
    // the last refusals' summaries first, so the final anchor covers them
    await audit.refusals.stop();
    await anchor("close");
  });
}
