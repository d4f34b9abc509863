import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { KensaClient } from "@kensa/client";
import {
  type Event,
  fleetRoutes,
  type Incident,
  incidentRoutes,
  projectRoutes,
  type Task,
  topics,
} from "@kensa/contracts";
import { needFfmpeg, waitFor } from "@kensa/testkit";
import mqtt from "mqtt";

/**
 * A device's findings sent the way its agent sends them, for console tests that need an
 * incident of a given task without running a model: the event over the device's own MQTT
 * credentials, then its frame and clip over HTTP with its id and secret.
 */

/** Where the hub is, and the admin's client. */
export interface HubAccess {
  client: KensaClient;
  httpUrl: string;
  mqttUrl: string;
}

/** One enrolled device of a project of its own. */
export interface FindingDevice {
  id: string;
  secret: string;
  projectId: string;
}

/**
 * Creates a project whose first label means OK and whose others raise incidents (no one is
 * notified), of the task whose findings the device sends, and enrolls the device in it.
 */
export async function projectWithDevice(
  hub: HubAccess,
  deviceId: string,
  project: { name: string; task: Task; labels: [ok: string, ...findings: string[]] },
): Promise<FindingDevice> {
  const created = await hub.client.call(projectRoutes.create, {
    body: {
      slug: project.name.toLowerCase().replace(/[^a-z0-9]+/g, "-"),
      name: project.name,
      task: project.task,
      labels: project.labels,
      okLabels: [project.labels[0]],
      rule: { type: "threshold", labels: [], minScore: 0.5 },
      notifications: { email: [], webhooks: [], cooldownSec: 0 },
    },
  });
  const enrolled = await hub.client.call(fleetRoutes.enroll, {
    body: { projectId: created.id, id: deviceId, tags: [] },
  });
  return { id: deviceId, secret: enrolled.secret, projectId: created.id };
}

/** The event of one finding on a frame of `frame` px, as an agent with model `modelVersionId` reports it. */
export function findingEvent(
  device: FindingDevice,
  id: string,
  frame: { width: number; height: number },
  result: Event["result"],
  modelVersionId: string,
): Event {
  return {
    v: 1,
    id,
    seq: 1,
    deviceId: device.id,
    pipeline: "default",
    sourceId: "camera",
    ts: new Date().toISOString(),
    bundle: { sha256: "a".repeat(64), modelVersionId },
    frame: { width: frame.width, height: frame.height, meta: {} },
    result,
    latencyMs: { preprocess: 1, inference: 1, total: 2 },
    media: true,
  };
}

/** The client a device uploads with: its id and secret (HTTP Basic). */
function deviceClient(hub: HubAccess, device: FindingDevice): KensaClient {
  return new KensaClient({
    baseUrl: hub.httpUrl,
    auth: { kind: "device", deviceId: device.id, secret: device.secret },
  });
}

/** Publishes the event, waits for the incident it raises, then uploads its frame; resolves with the incident. */
export async function sendFinding(
  hub: HubAccess,
  device: FindingDevice,
  event: Event,
  jpeg: Uint8Array,
): Promise<Incident> {
  const link = await mqtt.connectAsync(hub.mqttUrl, {
    clientId: device.id,
    username: device.id,
    password: device.secret,
    reconnectPeriod: 0,
  });
  await link.publishAsync(topics.events(device.id), JSON.stringify(event), { qos: 1 });
  await link.endAsync();
  const incident = await waitFor(`the incident of ${event.id}`, async () =>
    (await hub.client.call(incidentRoutes.list, { query: { projectId: device.projectId } })).items.find(
      (i) => i.eventId === event.id,
    ),
  );
  const media = await deviceClient(hub, device).call(incidentRoutes.uploadMedia, {
    params: { id: event.id },
    upload: new Uint8Array(jpeg),
    contentType: "image/jpeg",
  });
  if (media.eventId !== event.id) throw new Error(`the frame of ${event.id} was stored for ${media.eventId}`);
  return incident;
}

/**
 * Makes a 2 s H.264 MP4 (ffmpeg's test pattern, 10 fps) at `file` and uploads it as the event's
 * clip; false (the reason printed, or a throw under KENSA_REQUIRE_ALL=1) when no ffmpeg can.
 */
export async function sendClip(hub: HubAccess, device: FindingDevice, eventId: string, file: string): Promise<boolean> {
  const ffmpeg = needFfmpeg("libx264");
  if (!ffmpeg) return false;
  execFileSync(ffmpeg, [
    ...["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "2"],
    ...["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", file],
  ]);
  const receipt = await deviceClient(hub, device).call(incidentRoutes.uploadClip, {
    params: { id: eventId },
    query: { durationMs: 2000, frames: 20 },
    upload: new Uint8Array(readFileSync(file)),
    contentType: "video/mp4",
  });
  if (receipt.eventId !== eventId) throw new Error(`the clip of ${eventId} was stored for ${receipt.eventId}`);
  return true;
}
