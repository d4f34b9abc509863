import { KensaError } from "@kensa/contracts";
import { sniffImage } from "@kensa/vision";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { callingDevice } from "../http/request-auth.js";
import type { HubServices } from "../hub-services.js";

/** bytes; a thumbnail for the console, not a full frame */
export const DEVICE_FRAME_BYTES = 2 * 1024 * 1024;
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** The latest frame of a device: agents upload a thumbnail every few seconds, the console shows it. */
export function deviceFrameRoutes(app: FastifyInstance, s: HubServices): void {
  app.get<{ Params: { id: string } }>(
    "/api/v1/devices/:id/frame",
    { schema: { params: IdParams }, config: { permission: "devices:read" } },
    async (req, reply) => {
      const device = await s.devices.get(req.params.id);
      const frame = await s.deviceFrames.get(device.id);
      return reply
        .type(frame.contentType)
        .header("cache-control", "no-store")
        .header("etag", `"${frame.sha256}"`)
        .header("last-modified", new Date(frame.receivedAt).toUTCString())
        .header("x-kensa-frame-at", frame.receivedAt)
        .send(Buffer.from(frame.bytes.buffer, frame.bytes.byteOffset, frame.bytes.byteLength));
    },
  );

  // Its own context, so any content type reaches the handler as bytes and a wrong one is
  // answered as invalid media rather than a generic 415.
  app.register(async (frames) => {
    frames.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: DEVICE_FRAME_BYTES }, (_req, body, done) =>
      done(null, body),
    );
    frames.put<{ Params: { id: string } }>(
      "/api/v1/devices/:id/frame",
      { bodyLimit: DEVICE_FRAME_BYTES, schema: { params: IdParams }, config: { auth: "device" } },
      async (req, reply) => {
        const device = callingDevice(req);
        if (!device || device.deviceId !== req.params.id) {
          throw new KensaError("KENSA_ERR_FORBIDDEN", "a device uploads only its own frame");
        }
        const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
        const body = req.body;
        if (type !== "image/jpeg" || !Buffer.isBuffer(body) || sniffImage(body) !== "image/jpeg") {
          throw new KensaError("KENSA_ERR_MEDIA_INVALID", "a device frame must be a complete JPEG sent as image/jpeg");
        }
        await s.deviceFrames.put(device.deviceId, type, new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
        return reply.code(204).send();
      },
    );
  });
}
