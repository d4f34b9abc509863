import type { Socket } from "node:net";
import { KensaError } from "@kensa/contracts";
import { countRefusal } from "./limit-refusals.js";

/**
 * Follows the packet boundaries of an MQTT byte stream from the fixed headers alone (type byte,
 * then the remaining length in 1–4 bytes of 7 bits each), without holding any payload. `feed`
 * answers the size of the first packet whose header announces more than `maxBytes`, else null.
 */
export class PacketSizeScanner {
  readonly #max: number;
  /** bytes of the current packet's body still to skip */
  #skip = 0;
  /** -1: at a packet's type byte; 0..3: reading byte n of its remaining length */
  #lengthByte = -1;
  #length = 0;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  feed(chunk: Uint8Array): number | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++] as number;
      if (this.#lengthByte === -1) {
        this.#lengthByte = 0;
        this.#length = 0;
        continue;
      }
      this.#length += (byte & 0x7f) * 128 ** this.#lengthByte;
      this.#lengthByte++;
      // a fifth length byte is a protocol error: treat it as an oversized announcement
      if (byte & 0x80 && this.#lengthByte < 4) continue;
      const total = 1 + this.#lengthByte + this.#length;
      if (byte & 0x80 || total > this.#max) return byte & 0x80 ? Number.POSITIVE_INFINITY : total;
      this.#skip = this.#length;
      this.#lengthByte = -1;
    }
    return null;
  }
}

/**
 * Closes a client connection as soon as a packet header announces more than `maxBytes`, before
 * the broker's parser buffers the payload (mqtt-packet has no size bound and would hold the
 * whole packet in memory). Watches what the broker reads from the socket: Aedes reads it in
 * paused mode with `read()`, so every byte it parses passes here first.
 */
export function guardPacketSize(
  socket: Socket,
  maxBytes: number,
  onRefused: (announcedBytes: number) => void = () => {},
): void {
  const scanner = new PacketSizeScanner(maxBytes);
  const read = socket.read.bind(socket);
  let refused = false;
  socket.read = (size?: number) => {
    if (refused) return null;
    const chunk = read(size) as Buffer | string | null;
    if (chunk === null || typeof chunk === "string") return chunk;
    const announced = scanner.feed(chunk);
    if (announced === null) return chunk;
    refused = true;
    countRefusal("mqtt_packet");
    onRefused(announced);
    socket.destroy(
      new KensaError(
        "KENSA_ERR_MQTT_PACKET_TOO_LARGE",
        `an MQTT packet of ${announced} bytes was announced; at most ${maxBytes} are read (limits.mqttPacketBytes)`,
      ),
    );
    return null;
  };
}
