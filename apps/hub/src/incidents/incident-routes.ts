import { KensaError, incidentRoutes as routes } from "@kensa/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import parseRange from "range-parser";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { EventBus, HubEventMap } from "../bus/event-bus.js";
import { isoNow } from "../clock.js";
import { siteFrameOf } from "../federation/site-frame.js";
import { actorOf, decidedBy, siteScopeOf } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { EventService } from "./event-service.js";
import type { IncidentService } from "./incident-service.js";
import type { VerdictService } from "./verdict-service.js";

/** What these routes use of the hub. */
export interface IncidentRoutesDeps {
  audit: AuditLog;
  blobs: BlobStore;
  bus: EventBus<HubEventMap>;
  events: EventService;
  incidents: IncidentService;
  verdicts: VerdictService;
}

export function incidentRoutes(app: FastifyInstance, s: IncidentRoutesDeps): void {
  // a person scoped to sites sees only those sites' incidents; others' read as absent
  const scoped = (req: FastifyRequest, id: string) => s.incidents.get(id, undefined, siteScopeOf(req));
  route(app, routes.list, async (req) => s.incidents.list({ ...req.query, sites: siteScopeOf(req) }));
  route(app, routes.get, async (req) => scoped(req, req.params.id));
  route(app, routes.getMedia, async (req, reply) => {
    const incident = await scoped(req, req.params.id);
    const media = await s.events.mediaOf(incident.eventId);
    const blob = media ? await s.blobs.stream(media.sha256) : null;
    // a site hub's incident on central has no event here: its frame is found by its hash
    const site = media ? null : await siteFrameOf(incident, s.blobs);
    if (site) return reply.type(site.contentType).header("content-length", site.bytes.length).send(site.bytes);
    if (!media || !blob) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `incident ${incident.id} has no media (yet)`);
    return reply.type(media.contentType).header("content-length", blob.size).send(blob.stream);
  });
  // the clip as a browser's <video> asks for it: whole, or the byte range it seeks to
  route(app, routes.getClip, async (req, reply) => {
    const incident = await scoped(req, req.params.id);
    const clip = incident.clip;
    if (!clip) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `incident ${incident.id} has no clip (yet)`);
    const ranges = req.headers.range ? parseRange(clip.size, req.headers.range, { combine: true }) : undefined;
    if (ranges === -1) {
      reply.header("content-range", `bytes */${clip.size}`);
      throw new KensaError(
        "KENSA_ERR_RANGE_NOT_SATISFIABLE",
        `${req.headers.range} lies outside the clip's ${clip.size} bytes`,
      );
    }
    // one range is served as asked; a malformed or multi-part request gets the whole clip
    const range = Array.isArray(ranges) && ranges.type === "bytes" && ranges.length === 1 ? ranges[0] : undefined;
    const blob = await s.blobs.stream(clip.sha256, range);
    if (!blob) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `the clip of incident ${incident.id} is missing`);
    reply.type(clip.contentType).header("accept-ranges", "bytes");
    if (!range) return reply.header("content-length", blob.size).send(blob.stream);
    return reply
      .code(206)
      .header("content-range", `bytes ${range.start}-${range.end}/${blob.size}`)
      .header("content-length", range.end - range.start + 1)
      .send(blob.stream);
  });
  // A user's verdict is recorded under their username whatever the body's `by` says.
  route(app, routes.createVerdict, async (req) => {
    const before = await scoped(req, req.params.id);
    const verdict = await s.verdicts.create(req.params.id, { ...req.body, by: decidedBy(req, req.body.by) });
    await s.audit.recordRequest(
      req,
      "incident.verdict",
      { type: "incident", id: before.id },
      { verdictId: verdict.id, verdict: verdict.verdict, labels: verdict.labels, by: verdict.by },
    );
    const incident = await s.incidents.get(before.id);
    s.bus.publish("incident.updated", { incident, previousStatus: before.status });
    return verdict;
  });
  route(app, routes.acknowledge, async (req) => {
    await scoped(req, req.params.id);
    const { incident, changed } = await s.incidents.acknowledge(req.params.id, actorOf(req).actor, isoNow());
    if (changed) {
      await s.audit.recordRequest(req, "incident.acknowledge", { type: "incident", id: incident.id });
      s.bus.publish("incident.updated", { incident, previousStatus: "open" });
    }
    return incident;
  });
}
