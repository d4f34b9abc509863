import { KensaClient } from "@kensa/client";
import { datasetRoutes, fleetRoutes, incidentRoutes } from "@kensa/contracts";

/** One upload: the bytes, their type, and the signal that abandons it. */
export interface Upload {
  body: Uint8Array;
  contentType: string;
  signal: AbortSignal;
}

/**
 * The hub calls the agent makes over HTTP (bundle downloads follow the absolute URLs the desired
 * state carries), each a route of the contracts' tables called through the one typed client
 * with the device's credentials. A refusal throws the client's ApiError with the HTTP status.
 */
export interface HubCalls {
  /** a finding's frame */
  eventMedia(eventId: string, upload: Upload): Promise<void>;
  /** an incident clip, with its length */
  eventClip(eventId: string, clip: { durationMs: number; frames: number }, upload: Upload): Promise<void>;
  /** the console's preview of the device */
  deviceFrame(deviceId: string, upload: Upload): Promise<void>;
  /** a frame kept for learning */
  capture(
    captureId: string,
    query: { reason: string; ts: string; label?: string; score?: number },
    upload: Upload,
  ): Promise<void>;
}

/** The hub's calls under its base URL (`hubUrl` in the agent config), as device `deviceId`. */
export function hubCalls(hubUrl: string, deviceId: string, secret: string, fetchImpl?: typeof fetch): HubCalls {
  const hub = new KensaClient({
    baseUrl: hubUrl,
    auth: { kind: "device", deviceId, secret },
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  const input = (u: Upload) => ({ upload: u.body, contentType: u.contentType, signal: u.signal });
  return {
    eventMedia: async (id, u) => {
      await hub.call(incidentRoutes.uploadMedia, { params: { id }, ...input(u) });
    },
    eventClip: async (id, clip, u) => {
      await hub.call(incidentRoutes.uploadClip, { params: { id }, query: clip, ...input(u) });
    },
    deviceFrame: async (id, u) => {
      await hub.call(fleetRoutes.uploadFrame, { params: { id }, ...input(u) });
    },
    capture: async (captureId, query, u) => {
      // the hub takes the prediction as a pair
      const { label, score, ...rest } = query;
      const prediction = label !== undefined && score !== undefined ? { label, score } : {};
      await hub.call(datasetRoutes.capture, { params: { captureId }, query: { ...rest, ...prediction }, ...input(u) });
    },
  };
}
