import { Type } from "@sinclair/typebox";
import { List } from "../common.js";
import { defineRoutes } from "../route.js";
import {
  CreateVerdict,
  EventClipQuery,
  EventClipReceipt,
  EventMediaReceipt,
  EventQuery,
  Incident,
  IncidentQuery,
  IncidentStreamQuery,
  KeysetPage,
  Notification,
  NotificationQuery,
  StoredEvent,
  Verdict,
} from "./schemas.js";

// the stream's query predates the incidents folder; it still lives with the people schemas

const IdParams = Type.Object({ id: Type.String() });
/** an event id as an agent sends it in an upload's path */
const EventIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** Incidents: the events devices send with their frames and clips, the incidents raised from them and their verdicts. */
export const incidentRoutes = defineRoutes({
  listEvents: {
    method: "GET",
    path: "/api/v1/events",
    summary: "List stored events by device and seq, or newest first; a page at a time (cursor)",
    // events are what incidents are made of: whoever sees incidents sees them
    permission: "incidents:read",
    query: EventQuery,
    reply: KeysetPage(StoredEvent),
  },
  getEvent: {
    method: "GET",
    path: "/api/v1/events/:id",
    summary: "One event",
    permission: "incidents:read",
    params: IdParams,
    reply: StoredEvent,
    errors: ["KENSA_ERR_EVENT_NOT_FOUND"],
  },
  uploadMedia: {
    method: "PUT",
    path: "/api/v1/events/:id/media",
    summary: "Upload the frame of an event (JPEG or PNG); it may arrive before the event",
    auth: "user-or-device",
    // people upload media on a device's behalf only to repair data
    permission: "devices:manage",
    params: EventIdParams,
    upload: { kind: "bytes", types: ["image/jpeg", "image/png"] },
    status: 201,
    reply: EventMediaReceipt,
    errors: [
      "KENSA_ERR_MEDIA_INVALID",
      "KENSA_ERR_EVENT_NOT_FOUND",
      "KENSA_ERR_UPLOAD_TOO_LARGE",
      "KENSA_ERR_IMAGE_TOO_LARGE",
      "KENSA_ERR_EVENT_ID_INVALID",
      "KENSA_ERR_EARLY_MEDIA_LIMIT",
    ],
  },
  uploadClip: {
    method: "PUT",
    path: "/api/v1/events/:id/clip",
    summary: "Upload the video clip around an event's frame (MP4 or MJPEG AVI)",
    auth: "user-or-device",
    permission: "devices:manage",
    params: EventIdParams,
    query: EventClipQuery,
    upload: { kind: "bytes", types: ["video/mp4", "video/x-msvideo"] },
    status: 201,
    reply: EventClipReceipt,
    errors: [
      "KENSA_ERR_MEDIA_INVALID",
      "KENSA_ERR_EVENT_NOT_FOUND",
      "KENSA_ERR_UPLOAD_TOO_LARGE",
      "KENSA_ERR_EVENT_ID_INVALID",
      "KENSA_ERR_EARLY_MEDIA_LIMIT",
    ],
  },
  list: {
    method: "GET",
    path: "/api/v1/incidents",
    summary: "List incidents, newest first; a page at a time (cursor)",
    permission: "incidents:read",
    query: IncidentQuery,
    reply: KeysetPage(Incident),
  },
  stream: {
    method: "GET",
    path: "/api/v1/incidents/stream",
    summary: "Incidents as they are raised and decided; each event's data is the incident",
    permission: "incidents:read",
    query: IncidentStreamQuery,
    produces: { kind: "sse", event: Incident },
  },
  get: {
    method: "GET",
    path: "/api/v1/incidents/:id",
    summary: "One incident with its verdicts",
    permission: "incidents:read",
    params: IdParams,
    reply: Incident,
    errors: ["KENSA_ERR_INCIDENT_NOT_FOUND"],
  },
  getMedia: {
    method: "GET",
    path: "/api/v1/incidents/:id/media",
    summary: "The frame of an incident",
    permission: "incidents:read",
    params: IdParams,
    produces: { kind: "bytes", types: ["image/jpeg", "image/png"] },
    errors: ["KENSA_ERR_INCIDENT_NOT_FOUND", "KENSA_ERR_BLOB_NOT_FOUND", "KENSA_ERR_BLOB_CORRUPT"],
  },
  getClip: {
    method: "GET",
    path: "/api/v1/incidents/:id/clip",
    summary: "The clip of an incident, whole or the one byte range asked (206)",
    permission: "incidents:read",
    params: IdParams,
    produces: { kind: "bytes", types: ["video/mp4", "video/x-msvideo"] },
    errors: [
      "KENSA_ERR_INCIDENT_NOT_FOUND",
      "KENSA_ERR_BLOB_NOT_FOUND",
      "KENSA_ERR_RANGE_NOT_SATISFIABLE",
      "KENSA_ERR_BLOB_CORRUPT",
    ],
  },
  createVerdict: {
    method: "POST",
    path: "/api/v1/incidents/:id/verdict",
    summary: "Decide an incident: confirmed, false alarm or relabel (a person's verdict is recorded under their name)",
    permission: "incidents:review",
    params: IdParams,
    body: CreateVerdict,
    status: 201,
    reply: Verdict,
    errors: ["KENSA_ERR_INCIDENT_NOT_FOUND", "KENSA_ERR_VERDICT_LABELS_REQUIRED", "KENSA_ERR_VERDICT_UNKNOWN_LABEL"],
  },
  acknowledge: {
    method: "POST",
    path: "/api/v1/incidents/:id/acknowledge",
    summary: "Mark an open incident as seen; acknowledging it again changes nothing",
    permission: "incidents:review",
    params: IdParams,
    reply: Incident,
    errors: ["KENSA_ERR_INCIDENT_NOT_FOUND", "KENSA_ERR_INCIDENT_ALREADY_DECIDED"],
  },
  listNotifications: {
    method: "GET",
    path: "/api/v1/notifications",
    summary: "List the notifications sent (or not) for incidents",
    permission: "incidents:read",
    query: NotificationQuery,
    reply: List(Notification),
  },
});
