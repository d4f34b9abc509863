/**
 * The hub HTTP paths the agent calls, written in this one place (bundle downloads follow the
 * absolute URLs the desired state carries). All are PUTs with the device's Basic auth.
 */
export interface HubUrls {
  /** a finding's frame: `PUT /api/v1/events/:eventId/media` */
  eventMedia(eventId: string): string;
  /** an incident clip: `PUT /api/v1/events/:eventId/clip?durationMs=…&frames=…` */
  eventClip(eventId: string, clip: { durationMs: number; frames: number }): string;
  /** the console's preview of the device: `PUT /api/v1/devices/:deviceId/frame` */
  deviceFrame(deviceId: string): string;
  /** a frame kept for learning: `PUT /api/v1/captures/:captureId?reason=…&ts=…[&label=…&score=…]` */
  capture(captureId: string, query: { reason: string; ts: string; label?: string; score?: number }): string;
}

/** The hub's URLs under its base URL (`hubUrl` in the agent config). */
export function hubUrls(hubUrl: string): HubUrls {
  const base = hubUrl.replace(/\/+$/, "");
  const id = encodeURIComponent;
  return {
    eventMedia: (eventId) => `${base}/api/v1/events/${id(eventId)}/media`,
    eventClip: (eventId, clip) => {
      const q = new URLSearchParams({ durationMs: String(clip.durationMs), frames: String(clip.frames) });
      return `${base}/api/v1/events/${id(eventId)}/clip?${q}`;
    },
    deviceFrame: (deviceId) => `${base}/api/v1/devices/${id(deviceId)}/frame`,
    capture: (captureId, query) => {
      const q = new URLSearchParams({ reason: query.reason, ts: query.ts });
      // the hub takes the prediction as a pair
      if (query.label !== undefined && query.score !== undefined) {
        q.set("label", query.label);
        q.set("score", String(query.score));
      }
      return `${base}/api/v1/captures/${id(captureId)}?${q}`;
    },
  };
}
