import { Type } from "@sinclair/typebox";
import { List } from "../common.js";
import { defineRoutes } from "../route.js";
import { AgentClip, AgentHealth, AgentStatus, PushedFrame, PushFrameQuery } from "./schemas.js";

export * from "./schemas.js";

const SourceParams = Type.Object({ id: Type.String({ minLength: 1 }) });
const ClipParams = Type.Object({ file: Type.String({ minLength: 1 }) });

/**
 * The agent's own local HTTP API: status page, status, clips, the latest annotated frames,
 * Prometheus metrics and the push sources' intake. Served by the agent on its status port, not
 * by the hub; no authentication (a trusted line network). Every GET route also answers HEAD.
 */
export const agentStatusRoutes = defineRoutes({
  page: {
    method: "GET",
    path: "/",
    summary: "The status page: sources with their latest annotated frame, pipelines, queues",
    auth: "public",
    produces: { kind: "text", types: ["text/html"] },
  },
  health: {
    method: "GET",
    path: "/healthz",
    summary: "Whether the agent's local server answers",
    auth: "public",
    reply: AgentHealth,
  },
  status: {
    method: "GET",
    path: "/api/v1/status",
    summary: "What the device is doing: pipelines, sources, queues, capture, storage, clips, disk",
    auth: "public",
    reply: AgentStatus,
  },
  clips: {
    method: "GET",
    path: "/api/v1/clips",
    summary: "The incident clips kept on the device, newest first",
    auth: "public",
    reply: List(AgentClip),
  },
  clip: {
    method: "GET",
    path: "/api/v1/clips/:file",
    summary: "One incident clip (MP4, or AVI for MJPEG clips)",
    auth: "public",
    params: ClipParams,
    produces: { kind: "bytes", types: ["video/mp4", "video/x-msvideo"] },
    errors: ["KENSA_ERR_CLIP_NOT_FOUND"],
  },
  latestFrame: {
    method: "GET",
    path: "/api/v1/sources/:id/latest.jpg",
    summary: "A source's newest frame with its result drawn on it; 404 KENSA_ERR_NOT_FOUND until it has one",
    auth: "public",
    params: SourceParams,
    produces: { kind: "bytes", types: ["image/jpeg"] },
    errors: ["KENSA_ERR_SOURCE_NOT_FOUND", "KENSA_ERR_NOT_FOUND"],
  },
  pushFrame: {
    method: "POST",
    path: "/api/v1/sources/:id/frames",
    summary: "Push one image to a push source; it is queued for inference, never dropped",
    auth: "public",
    params: SourceParams,
    query: PushFrameQuery,
    upload: { kind: "bytes", types: ["image/jpeg", "image/png"] },
    status: 202,
    reply: PushedFrame,
    errors: [
      "KENSA_ERR_SOURCE_NOT_FOUND",
      "KENSA_ERR_VALIDATION",
      "KENSA_ERR_MEDIA_UNSUPPORTED_TYPE",
      "KENSA_ERR_UPLOAD_TOO_LARGE",
      "KENSA_ERR_MEDIA_INVALID",
      "KENSA_ERR_PIPELINE_NOT_READY",
      "KENSA_ERR_PIPELINE_SATURATED",
    ],
  },
  metrics: {
    method: "GET",
    path: "/metrics",
    summary: "Prometheus metrics of the pipelines, sources, queues and process",
    auth: "public",
    produces: { kind: "text", types: ["text/plain; version=0.0.4"] },
  },
});
