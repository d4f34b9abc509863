import type { Incident, IncidentStatus, IncidentStreamEvent } from "@kensa/contracts";
import { incidentRoutes } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import type { EventBus, HubEventMap } from "../bus/event-bus.js";
import { siteScopeOf } from "../http/request-auth.js";
import { route } from "../http/route.js";

/** ms between comment lines that keep proxies and browsers from closing an idle stream */
const HEARTBEAT_MS = 15_000;

/**
 * `incidentRoutes.stream`: Server-Sent Events of incidents as they are raised and
 * decided. The browser's EventSource sends the session cookie, which is how the console
 * authenticates it (it cannot set headers).
 */
export function incidentStreamRoutes(app: FastifyInstance, bus: EventBus<HubEventMap>): void {
  const open = new Set<() => void>();
  // Open streams never finish on their own; end them so closing the hub does not wait forever.
  app.addHook("preClose", async () => {
    for (const end of [...open]) end();
  });

  route(app, incidentRoutes.stream, async (req, reply) => {
    const q = req.query;
    const scope = siteScopeOf(req);
    const wanted = (incident: Incident, previous?: IncidentStatus) =>
      (!scope || (!!incident.site && scope.includes(incident.site.id))) &&
      (!q.projectId || incident.projectId === q.projectId) &&
      (!q.deviceId || incident.deviceId === q.deviceId) &&
      (!q.status || incident.status === q.status || previous === q.status);

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      // nginx would otherwise buffer the stream
      "x-accel-buffering": "no",
    });
    const send = (event: IncidentStreamEvent, incident: Incident) => {
      res.write(`event: ${event}\nid: ${incident.id}\ndata: ${JSON.stringify(incident)}\n\n`);
    };
    const offCreated = bus.subscribe("incident.created", ({ incident }) => {
      if (wanted(incident)) send("incident.created", incident);
    });
    const offUpdated = bus.subscribe("incident.updated", ({ incident, previousStatus }) => {
      if (wanted(incident, previousStatus)) send("incident.updated", incident);
    });
    const heartbeat = setInterval(() => res.write(": heartbeat\n\n"), HEARTBEAT_MS);
    heartbeat.unref();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      offCreated();
      offUpdated();
      open.delete(end);
      res.end();
    };
    open.add(end);
    res.on("close", end);
    // subscribed before this line is written, so a client that saw it misses nothing after
    res.write("retry: 3000\n: connected\n\n");
    return reply;
  });
}
