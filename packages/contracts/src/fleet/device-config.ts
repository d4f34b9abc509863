import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { canonicalJson, sha256Hex } from "../canonical.js";
import { Timestamp } from "../common.js";
import { isKensaError } from "../errors.js";
import { type Issue, parseWith } from "../validate.js";
import { RestartConfig, type SourceType, sourceConfigSchemas } from "./device-config-sources.js";

export * from "./device-config-sources.js";

// The part of an agent's configuration the hub may set (docs/agent.md, "Remote configuration"):
// sources, sampling, capture, media and the agent's intervals. Bootstrap keys (device id, secret,
// hub and broker URLs, TLS, data dir, status server, ffmpeg path) stay in the local agent.json.

const MiB = 1024 * 1024;
const Score = Type.Number({ minimum: 0, maximum: 1 });

/** Frames kept for learning and uploaded to the hub's labeling queue. */
export const CaptureSettings = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /** [low, high]: frames whose top score (any box's, for detection) falls in it; null: off */
    band: Type.Union([Type.Tuple([Score, Score]), Type.Null()], { default: [0.35, 0.65] }),
    /** frames where the pipeline's shadow model (desired state) disagrees with its bundle */
    disagreement: Type.Boolean({ default: true }),
    /** share of the other frames kept at random, 0..1 */
    sampleRate: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
    /** captures per source per UTC day, persisted across restarts */
    dailyBudget: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 100 }),
    /** near-duplicates: a frame within `maxDistance` bits (dHash, 64) of one of the source's `last` captures is skipped */
    dedupe: Type.Object(
      {
        maxDistance: Type.Integer({ minimum: 0, maximum: 64, default: 6 }),
        last: Type.Integer({ minimum: 1, maximum: 1000, default: 32 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

/** The media ring buffer: incident frames, incident clips, captures. */
export const MediaSettings = Type.Object(
  {
    /** bytes of media kept on disk; the oldest uploaded frames, then captures, then clips go first */
    quotaBytes: Type.Integer({ minimum: 0, default: 1024 * MiB }),
    /** keep uploaded incident frames on disk until the quota needs the room */
    keepUploaded: Type.Boolean({ default: true }),
    /** short clips around incidents of video sources (rtsp, video, mjpeg), through ffmpeg */
    clips: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        /** s before the incident frame */
        beforeS: Type.Number({ minimum: 0, maximum: 120, default: 5 }),
        /** s after it */
        afterS: Type.Number({ minimum: 0, maximum: 120, default: 5 }),
        /** bytes of JPEG frames buffered per video source */
        maxBufferBytes: Type.Integer({ minimum: MiB, default: 64 * MiB }),
        /** "auto": H.264 MP4 when ffmpeg has libx264, else MJPEG AVI */
        codec: Type.Union([Type.Literal("auto"), Type.Literal("h264"), Type.Literal("mjpeg")], { default: "auto" }),
        /** send each clip to the hub (the incident page plays it); clips stay on the device either way */
        upload: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

/** How much a device cut off from the hub may keep, and when it must give up events. */
export const OfflineSettings = Type.Object(
  {
    /** bytes of the whole data dir (database, media, bundles); media is evicted to stay under */
    quotaBytes: Type.Integer({ minimum: 0, default: 4096 * MiB }),
    /** bytes of free disk below which the oldest unsent events are deleted (counted as eventsDropped) */
    minFreeBytes: Type.Integer({ minimum: 0, default: 256 * MiB }),
  },
  { additionalProperties: false, default: {} },
);

/** Keys of the agent config the hub may set, each with the schema the agent config gives it. */
export const deviceConfigProperties = {
  /** replaces the whole list; sources name their pipeline (`pipeline`), a pipeline runs while a source feeds it */
  sources: Type.Array(Type.Unknown(), { maxItems: 64 }),
  capture: CaptureSettings,
  media: MediaSettings,
  offline: OfflineSettings,
  /** ms an event the broker took waits for the hub's confirmation before it is published again */
  hubAckTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  /** ms between telemetry messages */
  telemetryIntervalMs: Type.Integer({ minimum: 100, default: 5000 }),
  /** ms between preview frames sent to the hub for the console's device page; 0 = never */
  frameUploadIntervalMs: Type.Integer({ minimum: 0, default: 5000 }),
  /** ms between unsolicited reported-state messages */
  reportIntervalMs: Type.Integer({ minimum: 1000, default: 30_000 }),
  /** ONNX Runtime intra-op threads; the cores this process may use when omitted */
  intraOpThreads: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
  /** restart budget and backoff of a pipeline's inference session after a runtime failure */
  inferenceRestart: RestartConfig,
  /** parallel media uploads */
  mediaUploadConcurrency: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
  /** frames of push and folder-watch sources that may wait for inference, per pipeline */
  frameQueue: Type.Integer({ minimum: 1, maximum: 1024, default: 16 }),
};
export type DeviceConfigKey = keyof typeof deviceConfigProperties;
export const DEVICE_CONFIG_KEYS = Object.keys(deviceConfigProperties) as DeviceConfigKey[];

/**
 * Keys an agent applies while it runs; any other key changed makes it restart its components
 * in-process (same pid) with the new config (docs/agent.md, "Remote configuration").
 */
export const LIVE_DEVICE_CONFIG_KEYS: readonly DeviceConfigKey[] = ["sources", "capture"];

/** A device config as the hub stores and sends it: every key optional, sections partial. */
export const DeviceConfig = Type.Record(Type.String(), Type.Unknown(), {
  description: "keys: sources, capture, media, offline, hubAckTimeoutMs, telemetryIntervalMs, …",
});
export type DeviceConfig = Record<string, unknown>;

// every key optional; the defaults fill sections so a partial section is checked for what it sets
const DeviceConfigCheck = Type.Object(
  Object.fromEntries(DEVICE_CONFIG_KEYS.map((k) => [k, Type.Optional(deviceConfigProperties[k])])),
  { additionalProperties: false },
);

/**
 * Checks a device config (a project default, a device's own, or both merged): unknown keys,
 * each source on its own type's schema, duplicate source ids, the capture band's order.
 * Returns every issue with its key path; [] when valid.
 */
export function deviceConfigIssues(input: unknown): Issue[] {
  if (!input || typeof input !== "object" || Array.isArray(input))
    return [{ path: "/", message: "Expected an object" }];
  const issues: Issue[] = [];
  try {
    parseWith(DeviceConfigCheck, input, "KENSA_ERR_DEVICE_CONFIG_INVALID", "device config");
  } catch (err) {
    if (!isKensaError(err)) throw err;
    issues.push(...((err.details as { issues?: Issue[] } | undefined)?.issues ?? []));
  }
  const sources = (input as { sources?: unknown }).sources;
  const seen = new Set<string>();
  (Array.isArray(sources) ? sources : []).forEach((raw, i) => {
    const at = `/sources/${i}`;
    const { type, id } = raw && typeof raw === "object" ? (raw as { type?: unknown; id?: unknown }) : {};
    if (typeof id === "string") {
      if (seen.has(id)) issues.push({ path: `${at}/id`, message: `Duplicate source id "${id}"` });
      seen.add(id);
    }
    if (typeof type !== "string" || !Object.hasOwn(sourceConfigSchemas, type)) {
      issues.push({ path: `${at}/type`, message: `Expected one of: ${Object.keys(sourceConfigSchemas).join(", ")}` });
      return;
    }
    const schema = sourceConfigSchemas[type as SourceType];
    const value = Value.Default(schema, Value.Clone(raw));
    for (const e of [...Value.Errors(schema, value)].slice(0, 20)) {
      issues.push({ path: `${at}${e.path}`, message: e.message });
    }
  });
  const band = (input as { capture?: { band?: unknown } }).capture?.band;
  if (Array.isArray(band) && typeof band[0] === "number" && typeof band[1] === "number" && band[0] > band[1]) {
    issues.push({ path: "/capture/band", message: "low must not exceed high" });
  }
  return issues;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * `over` laid on `under`: objects merge key by key (recursively), anything else (arrays, such
 * as `sources`, and scalars) is replaced. How a device's config sits on its project's default,
 * and a local override on the hub's config.
 */
export function mergeDeviceConfig(under: DeviceConfig, over: DeviceConfig): DeviceConfig {
  const out: Record<string, unknown> = { ...under };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const base = out[k];
    out[k] = isPlainObject(base) && isPlainObject(v) ? mergeDeviceConfig(base, v) : v;
  }
  return out;
}

/** The key paths `over` sets, down to the leaves of objects (`/capture/dailyBudget`, `/sources`). */
export function deviceConfigPaths(over: DeviceConfig, prefix = ""): string[] {
  return Object.entries(over).flatMap(([k, v]) =>
    isPlainObject(v) && Object.keys(v).length > 0 ? deviceConfigPaths(v, `${prefix}/${k}`) : [`${prefix}/${k}`],
  );
}

/** The sha256 of a config as delivered: of its canonical JSON, so key order does not matter. */
export function deviceConfigSha256(config: DeviceConfig): string {
  return sha256Hex(canonicalJson(config));
}

/** Where a device's config stands, in its reported state. */
export const ReportedConfig = Type.Object({
  /** the revision running now; 0 while the device runs its local agent.json alone */
  rev: Type.Integer({ minimum: 0 }),
  sha256: Type.Optional(Type.String()),
  /** the latest revision the device received from the hub */
  desiredRev: Type.Integer({ minimum: 0 }),
  /** applied: running `rev`; rejected: `desiredRev` was refused (see `error`), `rev` keeps running */
  status: Type.Union([Type.Literal("local"), Type.Literal("applied"), Type.Literal("rejected")]),
  error: Type.Optional(
    Type.Object({
      code: Type.String(),
      message: Type.String(),
      issues: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
    }),
  ),
  /** key paths the hub set that a local override in agent.json pinned to its own value */
  overridden: Type.Optional(Type.Array(Type.String())),
  /** keys whose change made the agent restart its components in-process when `rev` was applied */
  restarted: Type.Optional(Type.Array(Type.String())),
  appliedAt: Type.Optional(Timestamp),
});
export type ReportedConfig = Static<typeof ReportedConfig>;

/** One revision of a device's or a project's config, as set. */
export const DeviceConfigRevision = Type.Object({
  scope: Type.Union([Type.Literal("device"), Type.Literal("project")]),
  /** the device id or project id */
  scopeId: Type.String(),
  rev: Type.Integer({ minimum: 1 }),
  config: DeviceConfig,
  sha256: Type.String(),
  comment: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  createdBy: Type.Union([Type.String(), Type.Null()]),
});
export type DeviceConfigRevision = Static<typeof DeviceConfigRevision>;

/** What the hub sends a device: its config merged over its project's default. */
export const DeliveredDeviceConfig = Type.Object({
  rev: Type.Integer({ minimum: 1 }),
  sha256: Type.String(),
  config: DeviceConfig,
});
export type DeliveredDeviceConfig = Static<typeof DeliveredDeviceConfig>;

export const DeviceConfigView = Type.Object({
  deviceId: Type.String(),
  projectId: Type.String(),
  /** the device's own config, latest revision; null when none was set */
  device: Type.Union([DeviceConfigRevision, Type.Null()]),
  /** the project's default, latest revision; null when none was set */
  project: Type.Union([DeviceConfigRevision, Type.Null()]),
  /** the two merged, with the revision the device is sent; null while neither was set */
  delivered: Type.Union([DeliveredDeviceConfig, Type.Null()]),
  /** what the device reported last */
  applied: Type.Union([ReportedConfig, Type.Null()]),
});
export type DeviceConfigView = Static<typeof DeviceConfigView>;

export const SetDeviceConfig = Type.Object(
  {
    config: DeviceConfig,
    /** why, kept with the revision */
    comment: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type SetDeviceConfig = Static<typeof SetDeviceConfig>;

export const ProjectDeviceConfigView = Type.Object({
  projectId: Type.String(),
  config: Type.Union([DeviceConfigRevision, Type.Null()]),
});
export type ProjectDeviceConfigView = Static<typeof ProjectDeviceConfigView>;
