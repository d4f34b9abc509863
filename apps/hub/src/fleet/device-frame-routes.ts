import { fleetRoutes, KensaError } from "@kensa/contracts";
import { sniffImage } from "@kensa/vision";
import type { FastifyInstance } from "fastify";
import { callingDevice } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { DeviceFrameService } from "./device-frame-service.js";
import type { DeviceService } from "./device-service.js";

/** bytes; a thumbnail for the console, not a full frame */
export const DEVICE_FRAME_BYTES = 2 * 1024 * 1024;

/** What these routes use of the hub. */
export interface DeviceFrameRoutesDeps {
  deviceFrames: DeviceFrameService;
  devices: DeviceService;
}

/** The latest frame of a device: agents upload a thumbnail every few seconds, the console shows it. */
export function deviceFrameRoutes(app: FastifyInstance, s: DeviceFrameRoutesDeps): void {
  route(app, fleetRoutes.getFrame, async (req, reply) => {
    const device = await s.devices.get(req.params.id);
    const frame = await s.deviceFrames.get(device.id);
    return reply
      .type(frame.contentType)
      .header("cache-control", "no-store")
      .header("etag", `"${frame.sha256}"`)
      .header("last-modified", new Date(frame.receivedAt).toUTCString())
      .header("x-kensa-frame-at", frame.receivedAt)
      .send(Buffer.from(frame.bytes.buffer, frame.bytes.byteOffset, frame.bytes.byteLength));
  });

  // Its own context, so any content type reaches the handler as bytes and a wrong one is
  // answered as invalid media rather than a generic 415.
  app.register(async (frames) => {
    frames.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: DEVICE_FRAME_BYTES }, (_req, body, done) =>
      done(null, body),
    );
    route(
      frames,
      fleetRoutes.uploadFrame,
      async (req, reply) => {
        const device = callingDevice(req);
        if (!device || device.deviceId !== req.params.id) {
          throw new KensaError("KENSA_ERR_FORBIDDEN", "a device uploads only its own frame");
        }
        const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
        const body: unknown = req.body;
        if (type !== "image/jpeg" || !Buffer.isBuffer(body) || sniffImage(body) !== "image/jpeg") {
          throw new KensaError("KENSA_ERR_MEDIA_INVALID", "a device frame must be a complete JPEG sent as image/jpeg");
        }
        await s.deviceFrames.put(device.deviceId, type, new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
        return reply.send();
      },
      { bodyLimit: DEVICE_FRAME_BYTES },
    );
  });
}
