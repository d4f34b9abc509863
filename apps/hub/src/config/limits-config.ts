import { type Static, Type } from "@sinclair/typebox";

const MiB = 1024 * 1024;
const Bytes = (max: number, value: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: max, default: value, description });

/**
 * Every size the hub accepts from outside, in one config section (`limits`). Defaults are sized
 * for real factory cameras and datasets; docs/security.md ("Limits") gives the reasoning,
 * the refusal code and the metric label of each.
 */
export const LimitsConfigSchema = Type.Object(
  {
    /** bytes; largest accepted ONNX upload (model registration) */
    modelBytes: Bytes(2 ** 31 - 1, 200 * MiB, "bytes; largest accepted ONNX upload"),
    /** bytes; largest accepted media (frame, sample image, mask) upload */
    mediaBytes: Bytes(2 ** 31 - 1, 10 * MiB, "bytes; largest accepted image upload"),
    /** bytes; largest accepted incident clip (video) upload */
    clipBytes: Bytes(2 ** 31 - 1, 64 * MiB, "bytes; largest accepted clip upload"),
    /** bytes; largest JSON (or other non-upload) request body, on every route without its own limit */
    jsonBodyBytes: Bytes(256 * MiB, 1 * MiB, "bytes; largest JSON request body"),
    /** bytes; largest dataset archive upload (.zip, .tar, .tar.gz), as sent */
    archiveBytes: Bytes(2 ** 40, 4 * 1024 * MiB, "bytes; largest dataset archive upload"),
    /** entries of any kind in one archive */
    archiveEntries: Type.Integer({ minimum: 1, maximum: 100_000_000, default: 1_000_000 }),
    /** bytes of all entries of one archive together, uncompressed (a .tar.gz: the inflated tar) */
    archiveUnpackedBytes: Bytes(2 ** 42, 16 * 1024 * MiB, "bytes; one archive, uncompressed"),
    /** bytes of one archive entry, uncompressed */
    archiveEntryBytes: Bytes(2 ** 32, 512 * MiB, "bytes; one archive entry, uncompressed"),
    /**
     * uncompressed ÷ compressed size above which an archive entry (of more than 1 MiB inflated)
     * is refused as a bomb; images barely compress, JSON annotations about 10:1
     */
    archiveEntryRatio: Type.Integer({ minimum: 2, maximum: 100_000, default: 200 }),
    /**
     * bytes; largest MQTT packet the embedded broker reads from a client (the connection is
     * closed as soon as a packet's header announces more). An external broker has its own
     * setting (Mosquitto `max_packet_size`, docs/brokers.md).
     */
    mqttPacketBytes: Bytes(256 * MiB, 2 * MiB, "bytes; largest MQTT packet from a client"),
    /** bytes; largest event payload ingest parses; a larger one is refused as rejected */
    eventBytes: Bytes(256 * MiB, 1 * MiB, "bytes; largest event payload"),
    /** bytes; `frame.meta` of one event, as JSON */
    metaBytes: Bytes(16 * MiB, 16 * 1024, "bytes; frame.meta of one event, as JSON"),
    /**
     * pixels (width × height, read from the header before decoding) of an uploaded image: 8192²
     * admits 50 MP and 65 MP industrial cameras and 8K video, and refuses a 16000² bomb
     */
    imagePixels: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, default: 8192 * 8192 }),
    /** uploaded images decoded at once by this hub process; more wait their turn */
    imageDecodes: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
  },
  { additionalProperties: false, default: {} },
);

export type LimitsConfig = Static<typeof LimitsConfigSchema>;
