import { KensaError, federationRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Selectable } from "kysely";
import type { SitesTable } from "../db/schema/federation.js";
import { actorOf, siteScopeOf } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { Federation } from "./federation-types.js";

export interface FederationRoutesDeps {
  federation: Federation;
  audit: AuditLog;
  /** bytes; the largest frame a site may push (limits.mediaBytes) */
  frameBytes: number;
}

const siteOf = new WeakMap<FastifyRequest, Selectable<SitesTable>>();

/**
 * Sites (admins), the routes sites call on central (site token, checked here before any body
 * is read, like the worker routes), and this hub's own federation status.
 */
export function federationRoutes(app: FastifyInstance, d: FederationRoutesDeps): void {
  const { sites, intake, siteRollouts } = d.federation;
  // a person scoped to sites (docs/permissions.md, "Site scope") sees only those; others read as absent
  const inScope = (req: FastifyRequest, id: string) => {
    const scope = siteScopeOf(req);
    if (scope && !scope.includes(id)) throw new KensaError("KENSA_ERR_SITE_NOT_FOUND", `no site "${id}"`);
  };
  route(app, routes.listSites, async (req) => {
    const scope = siteScopeOf(req);
    const items = await sites.list();
    return { items: scope ? items.filter((s) => scope.includes(s.id)) : items };
  });
  route(app, routes.createSite, async (req) => {
    const out = await sites.create(req.body);
    await d.audit.recordRequest(
      req,
      "site.create",
      { type: "site", id: out.site.id },
      { name: out.site.name, projects: out.site.projects },
    );
    return out;
  });
  route(app, routes.rotateSiteToken, async (req) => {
    const out = await sites.rotate(req.params.id);
    await d.audit.recordRequest(req, "site.token", { type: "site", id: out.site.id });
    return out;
  });
  route(app, routes.createSiteRollout, async (req) => {
    inScope(req, req.params.id);
    const site = await sites.row(req.params.id);
    const out = await siteRollouts.create(site, req.body, actorOf(req).actor);
    await d.audit.recordRequest(
      req,
      "site.rollout.create",
      { type: "site_rollout", id: out.id },
      { siteId: site.id, modelVersionId: out.modelVersionId, pipeline: out.pipeline, target: out.target },
    );
    return out;
  });
  for (const [spec, action] of [
    [routes.pauseSiteRollout, "pause"],
    [routes.resumeSiteRollout, "resume"],
    [routes.rollbackSiteRollout, "rollback"],
  ] as const) {
    route(app, spec, async (req) => {
      inScope(req, req.params.id);
      const site = await sites.row(req.params.id);
      const by = actorOf(req).actor;
      const out = await siteRollouts.commands.create(site, req.params.rolloutId, action, req.body.reason, by);
      await d.audit.recordRequest(
        req,
        `site.rollout.${action}`,
        { type: "site_rollout", id: out.siteRolloutId },
        { siteId: site.id, commandId: out.id, reason: out.reason },
      );
      return out;
    });
  }
  route(app, routes.listSiteRollouts, async (req) => {
    inScope(req, req.params.id);
    await sites.row(req.params.id);
    return { items: await siteRollouts.list(req.params.id) };
  });
  route(app, routes.status, async () => d.federation.status());

  app.register(async (s) => {
    s.addHook("onRequest", async (req) => {
      const id = (req.params as { id?: string }).id ?? "";
      siteOf.set(req, await sites.verify(id, req.headers.authorization));
    });
    s.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: d.frameBytes }, (_req, body, done) => done(null, body));
    const site = (req: FastifyRequest) => siteOf.get(req)!;
    route(s, routes.pushIncidents, async (req) => intake.pushIncidents(site(req), req.body.items));
    route(s, routes.pushVerdicts, async (req) => intake.pushVerdicts(site(req), req.body.items));
    route(s, routes.pushFrame, async (req) => intake.putFrame(req.params.sha256, req.body as Uint8Array), {
      bodyLimit: d.frameBytes,
    });
    route(s, routes.pushFleet, async (req) => {
      await sites.setFleet(site(req).id, req.body);
    });
    route(s, routes.pushSamples, async (req) => d.federation.samples.push(site(req), req.body.items));
    route(s, routes.pushField, async (req) => {
      await sites.setField(site(req).id, req.body);
    });
    route(s, routes.models, async (req) => intake.approvals(site(req), req.query.since, req.query.limit));
    route(s, routes.rolloutOrders, async (req) => siteRollouts.orders(site(req), req.query.since, req.query.limit));
    route(s, routes.pushRollouts, async (req) => siteRollouts.report(site(req), req.body.items));
    route(s, routes.rolloutCommands, async (req) =>
      siteRollouts.commands.orders(site(req), req.query.since, req.query.limit),
    );
    route(s, routes.pushRolloutCommandResults, async (req) => siteRollouts.commands.results(site(req), req.body.items));
    route(s, routes.modelFile, async (req, reply) => {
      const file = await intake.modelFile(site(req), req.params.modelId);
      return reply.type("application/octet-stream").header("content-length", String(file.size)).send(file.stream);
    });
  });
}
