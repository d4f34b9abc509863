import { type Static, type TSchema, Type } from "@sinclair/typebox";

// The `sources` entries of a device config (agent.json or the hub's remote config), one schema per
// source `type`: each entry is validated on its own schema so errors name the exact key.

const SourceId = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description: "unique per agent" });

/** Keys every source accepts. */
const common = {
  id: SourceId,
  /** the pipeline this source feeds; the agent's `pipeline` when omitted (events carry it: at most 128 characters) */
  pipeline: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
};

/** Frame sampling before inference: `everyNth` first, then the `maxFps` cap. */
const Sample = Type.Object(
  {
    /** at most this many frames per second reach the pipeline */
    maxFps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1000 })),
    /** keep the 1st, (N+1)th, (2N+1)th … frame */
    everyNth: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

/** Restart budget and backoff of sources that hold a connection or a child process. */
export const RestartConfig = Type.Object(
  {
    /** restarts allowed within `windowMs`; one more marks the source `failed` */
    maxRestarts: Type.Integer({ minimum: 0, default: 10 }),
    /** ms */
    windowMs: Type.Integer({ minimum: 1000, default: 300_000 }),
    /** ms before the first restart; doubles per consecutive failure */
    backoffMs: Type.Integer({ minimum: 10, default: 500 }),
    /** ms, backoff ceiling */
    backoffMaxMs: Type.Integer({ minimum: 10, default: 30_000 }),
    /** ms between attempts once `failed` */
    failedRetryMs: Type.Integer({ minimum: 100, default: 60_000 }),
  },
  { additionalProperties: false, default: {} },
);

const streaming = {
  /** ms without a frame before the input counts as stalled and is restarted */
  stallTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
  restart: RestartConfig,
  sample: Type.Optional(Sample),
  /** frames per second to decode (ffmpeg `-vf fps=N`; the native MJPEG reader samples) */
  fps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 240 })),
  /** extra ffmpeg options placed before `-i`, e.g. hardware decoding */
  inputArgs: Type.Array(Type.String(), { default: [] }),
};

export const SyntheticSourceConfig = Type.Object(
  {
    ...common,
    type: Type.Literal("synthetic"),
    /** frames per second */
    fps: Type.Number({ exclusiveMinimum: 0, maximum: 120, default: 5 }),
    seed: Type.Integer({ minimum: 0, default: 1 }),
    /** share of frames that carry a defect, 0..1 */
    defectRate: Type.Number({ minimum: 0, maximum: 1, default: 0.3 }),
    /** px */
    width: Type.Integer({ minimum: 16, maximum: 4096, default: 320 }),
    /** px */
    height: Type.Integer({ minimum: 16, maximum: 4096, default: 240 }),
    surface: Type.Optional(Type.Union([Type.Literal("brushed-metal"), Type.Literal("cast")])),
    /** harder frames (the generator's options, all off when omitted): share of faint defects, 0..1 */
    faint: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** slow lighting drift along the frame index, 0..1 */
    drift: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** surface texture amplitude relative to the default (1), 0..4 */
    texture: Type.Optional(Type.Number({ minimum: 0, maximum: 4 })),
    /** share of blurred frames, 0..1 */
    blur: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** sensor noise, standard deviation in luminance, 0..0.2 (0.012 when omitted) */
    noise: Type.Optional(Type.Number({ minimum: 0, maximum: 0.2 })),
    sample: Type.Optional(Sample),
  },
  { additionalProperties: false },
);
export type SyntheticSourceConfig = Static<typeof SyntheticSourceConfig>;

export const FolderSourceConfig = Type.Object(
  {
    ...common,
    type: Type.Literal("folder"),
    /** a directory of .jpg/.jpeg/.png files, read in name order */
    path: Type.String({ minLength: 1 }),
    /** frames per second */
    fps: Type.Number({ exclusiveMinimum: 0, maximum: 120, default: 2 }),
    loop: Type.Boolean({ default: true }),
    sample: Type.Optional(Sample),
  },
  { additionalProperties: false },
);
export type FolderSourceConfig = Static<typeof FolderSourceConfig>;

export const RtspSourceConfig = Type.Object(
  {
    ...common,
    type: Type.Literal("rtsp"),
    /** rtsp://user:pass@host:554/stream */
    url: Type.String({ pattern: "^rtsps?://[^\\s]+$" }),
    transport: Type.Union([Type.Literal("tcp"), Type.Literal("udp")], { default: "tcp" }),
    ...streaming,
  },
  { additionalProperties: false },
);
export type RtspSourceConfig = Static<typeof RtspSourceConfig>;

export const VideoSourceConfig = Type.Object(
  {
    ...common,
    type: Type.Literal("video"),
    /** a video file ffmpeg can read */
    path: Type.String({ minLength: 1 }),
    /** start over at the end instead of ending */
    loop: Type.Boolean({ default: false }),
    /** play at the file's native frame rate (ffmpeg `-re`) rather than as fast as it decodes */
    realtime: Type.Boolean({ default: true }),
    ...streaming,
  },
  { additionalProperties: false },
);
export type VideoSourceConfig = Static<typeof VideoSourceConfig>;

export const MjpegSourceConfig = Type.Object(
  {
    ...common,
    type: Type.Literal("mjpeg"),
    /** an HTTP(S) multipart/x-mixed-replace stream, e.g. http://cam/video.mjpg */
    url: Type.String({ pattern: "^https?://[^\\s]+$" }),
    /** `native`: parse the multipart stream in-process (no ffmpeg); `ffmpeg`: decode and re-encode */
    reader: Type.Union([Type.Literal("native"), Type.Literal("ffmpeg")], { default: "native" }),
    ...streaming,
  },
  { additionalProperties: false },
);
export type MjpegSourceConfig = Static<typeof MjpegSourceConfig>;

export const FolderWatchSourceConfig = Type.Object(
  {
    ...common,
    type: Type.Literal("folder-watch"),
    /** a directory where new .jpg/.jpeg/.png files appear (write `name.jpg.tmp` then rename, or just write) */
    path: Type.String({ minLength: 1 }),
    /** what happens to a file once it was handed to the pipeline */
    after: Type.Union([Type.Literal("move"), Type.Literal("delete"), Type.Literal("keep")], { default: "move" }),
    /** where `after: "move"` puts processed files, relative to `path` */
    doneDir: Type.String({ minLength: 1, default: "done" }),
    /** ms between directory scans */
    pollMs: Type.Integer({ minimum: 20, maximum: 60_000, default: 250 }),
    /** ms a file's size and mtime must stay unchanged before it is read */
    settleMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 300 }),
  },
  { additionalProperties: false },
);
export type FolderWatchSourceConfig = Static<typeof FolderWatchSourceConfig>;

export const PushSourceConfig = Type.Object(
  {
    ...common,
    type: Type.Literal("push"),
    /** bytes; larger images are refused with 413 */
    maxBytes: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, default: 16 * 1024 * 1024 }),
  },
  { additionalProperties: false },
);
export type PushSourceConfig = Static<typeof PushSourceConfig>;

/**
 * Source config schemas keyed by `type`. Each variant is validated on its own schema so
 * errors name the exact key (`/sources/0/fps`), which a TypeBox union cannot do.
 */
export const sourceConfigSchemas = {
  synthetic: SyntheticSourceConfig,
  folder: FolderSourceConfig,
  rtsp: RtspSourceConfig,
  video: VideoSourceConfig,
  mjpeg: MjpegSourceConfig,
  "folder-watch": FolderWatchSourceConfig,
  push: PushSourceConfig,
} as const satisfies Record<string, TSchema>;

export type SourceType = keyof typeof sourceConfigSchemas;
export const SourceConfig = Type.Union(Object.values(sourceConfigSchemas));
export type SourceConfig = { [K in SourceType]: Static<(typeof sourceConfigSchemas)[K]> }[SourceType];
