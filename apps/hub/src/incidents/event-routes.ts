import { incidentRoutes, KensaError } from "@kensa/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { EventBus, HubEventMap } from "../bus/event-bus.js";
import { callingDevice } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { ClipService } from "./clip-service.js";
import type { EventService } from "./event-service.js";
import type { IncidentService } from "./incident-service.js";

const routes = incidentRoutes;

/** The media type of a request, without its parameters: `image/jpeg; q=1` → `image/jpeg`. */
function mediaTypeOf(req: FastifyRequest): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

/** What these routes use of the hub. */
export interface EventRoutesDeps {
  bus: EventBus<HubEventMap>;
  clips: ClipService;
  events: EventService;
  incidents: IncidentService;
}

export function eventRoutes(
  app: FastifyInstance,
  s: EventRoutesDeps,
  opts: { mediaBytes: number; clipBytes: number },
): void {
  // an incident raised before its frame or clip arrived shows it now, on every open console
  const announceIncidentOf = async (eventId: string) => {
    const incident = await s.incidents.forEvent(eventId);
    if (incident) s.bus.publish("incident.updated", { incident, previousStatus: incident.status });
    return incident;
  };
  route(app, routes.listEvents, async (req) => s.events.list(req.query));
  route(app, routes.getEvent, async (req) => s.events.get(req.params.id));

  // Its own context, so any content type reaches the handler as bytes and a wrong one is
  // answered as invalid media rather than a generic 415.
  app.register(async (media) => {
    media.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: opts.mediaBytes }, (_req, body, done) =>
      done(null, body),
    );
    media.addContentTypeParser(
      ["image/jpeg", "image/png"],
      { parseAs: "buffer", bodyLimit: opts.mediaBytes },
      (_req, body, done) => done(null, body),
    );
    const types: readonly string[] = routes.uploadMedia.upload.types;
    route(
      media,
      routes.uploadMedia,
      async (req) => {
        const type = mediaTypeOf(req);
        if (!types.includes(type)) {
          throw new KensaError(
            "KENSA_ERR_MEDIA_INVALID",
            `media must be ${types.join(" or ")}, not "${type || "none"}"`,
          );
        }
        const body: unknown = req.body;
        if (!Buffer.isBuffer(body) || body.byteLength === 0)
          throw new KensaError("KENSA_ERR_MEDIA_INVALID", "empty body");
        const device = callingDevice(req);
        const out = await s.events.attachMedia(device?.deviceId ?? null, req.params.id, type, body);
        if (out.linked) await announceIncidentOf(req.params.id);
        return { eventId: req.params.id, ...out };
      },
      { bodyLimit: opts.mediaBytes },
    );
  });

  // the incident clip: a short video around the incident frame, from devices with video sources
  app.register(async (clips) => {
    // every type reaches the handler as bytes, so a wrong one is answered as invalid media
    clips.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: opts.clipBytes }, (_req, body, done) =>
      done(null, body),
    );
    const types: readonly string[] = routes.uploadClip.upload.types;
    route(
      clips,
      routes.uploadClip,
      async (req) => {
        const type = mediaTypeOf(req);
        if (!types.includes(type)) {
          throw new KensaError(
            "KENSA_ERR_MEDIA_INVALID",
            `a clip must be ${types.join(" or ")}, not "${type || "none"}"`,
          );
        }
        const body: unknown = req.body;
        if (!Buffer.isBuffer(body) || body.byteLength === 0)
          throw new KensaError("KENSA_ERR_MEDIA_INVALID", "empty body");
        const device = callingDevice(req);
        const out = await s.clips.attach(device?.deviceId ?? null, req.params.id, type, body, req.query);
        const incident = await announceIncidentOf(req.params.id);
        return { eventId: req.params.id, ...out, incidentId: incident?.id ?? null };
      },
      { bodyLimit: opts.clipBytes },
    );
  });
}
