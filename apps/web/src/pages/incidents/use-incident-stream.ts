import { type Incident, type IncidentStreamQuery, incidentRoutes } from "@kensa/contracts";
import { useEffect, useRef, useState } from "react";
import { hub } from "../../api/client";

export type StreamStatus = "connecting" | "live" | "reconnecting";

export type IncidentStreamEvent = { type: "incident.created" | "incident.updated"; incident: Incident };

/** ms before the first reconnect after the hub closed the stream; doubles up to MAX_BACKOFF_MS */
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 15_000;

/**
 * Follows the incident stream (server-sent events). EventSource retries by itself after a
 * dropped connection but gives up for good when the hub answers with an error status (a
 * restart, a proxy 502), so a closed source is reopened here with backoff. `onOpen` runs on
 * every (re)connect: what happened before it is not replayed, so callers refetch.
 */
export function useIncidentStream(
  query: Partial<IncidentStreamQuery>,
  onEvent: (e: IncidentStreamEvent) => void,
  onOpen: () => void,
): StreamStatus {
  const [status, setStatus] = useState<StreamStatus>("connecting");
  const handlers = useRef({ onEvent, onOpen });
  handlers.current = { onEvent, onOpen };
  const url = hub.url(incidentRoutes.stream, { query });

  useEffect(() => {
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let backoff = FIRST_BACKOFF_MS;
    let closed = false;

    const handle = (type: IncidentStreamEvent["type"]) => (msg: MessageEvent<string>) => {
      try {
        handlers.current.onEvent({ type, incident: JSON.parse(msg.data) as Incident });
      } catch (err) {
        console.error("bad incident stream message", err);
      }
    };
    const connect = () => {
      source = new EventSource(url, { withCredentials: true });
      source.addEventListener("open", () => {
        setStatus("live");
        backoff = FIRST_BACKOFF_MS;
        // also on the first open: anything raised between the list fetch and the subscription
        // would otherwise be missing until the next reload
        handlers.current.onOpen();
      });
      source.addEventListener("incident.created", handle("incident.created"));
      source.addEventListener("incident.updated", handle("incident.updated"));
      source.addEventListener("error", () => {
        if (closed) return;
        setStatus("reconnecting");
        if (source?.readyState === EventSource.CLOSED) {
          source.close();
          timer = setTimeout(connect, backoff);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        }
      });
    };
    connect();
    return () => {
      closed = true;
      clearTimeout(timer);
      source?.close();
    };
  }, [url]);

  return status;
}
