import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { DEVICE_ID_PATTERN, deepFreeze, type Issue, isKensaError, KensaError, parseWith } from "@kensa/contracts";
import { type Static, Type } from "@sinclair/typebox";
import { RestartConfig, type SourceConfig, type SourceType, sourceConfigSchemas } from "./sources/source-config.js";
import { AgentTlsSchema } from "./uplink/agent-tls.js";

export {
  FolderSourceConfig,
  FolderWatchSourceConfig,
  MjpegSourceConfig,
  PushSourceConfig,
  RtspSourceConfig,
  SourceConfig,
  type SourceType,
  SyntheticSourceConfig,
  sourceConfigSchemas,
  VideoSourceConfig,
} from "./sources/source-config.js";

const MiB = 1024 * 1024;
const Score = Type.Number({ minimum: 0, maximum: 1 });

/** Frames kept for learning and uploaded to the hub's labeling queue. */
const Capture = Type.Object(
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
const Media = Type.Object(
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
const Offline = Type.Object(
  {
    /** bytes of the whole data dir (database, media, bundles); media is evicted to stay under */
    quotaBytes: Type.Integer({ minimum: 0, default: 4096 * MiB }),
    /** bytes of free disk below which the oldest unsent events are deleted (counted as eventsDropped) */
    minFreeBytes: Type.Integer({ minimum: 0, default: 256 * MiB }),
  },
  { additionalProperties: false, default: {} },
);

export const AgentConfigSchema = Type.Object(
  {
    deviceId: Type.String({ pattern: DEVICE_ID_PATTERN }),
    /** the device secret; prefer env KENSA_DEVICE_SECRET or KENSA_DEVICE_SECRET_FILE over the file */
    secret: Type.String({ minLength: 1 }),
    /** base URL of the hub's HTTP API, e.g. http://hub:8080 */
    hubUrl: Type.String({ pattern: "^https?://[^\\s]+$" }),
    /** broker URL, e.g. mqtt://hub:1883 */
    mqttUrl: Type.String({ pattern: "^(mqtts?|wss?|tcp|ssl)://[^\\s]+$" }),
    /** CA to trust (and client certificate to show) on https:// and mqtts:// (docs/agent.md, "TLS") */
    tls: Type.Optional(AgentTlsSchema),
    /** where the outbox, media and bundles live; default `.kensa/agent-<deviceId>` */
    dataDir: Type.Optional(Type.String({ minLength: 1 })),
    sources: Type.Array(Type.Unknown(), { default: [] }),
    /** the pipeline id this agent's sources feed, as named in the desired state */
    pipeline: Type.String({ minLength: 1, default: "default" }),
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
    capture: Capture,
    media: Media,
    offline: Offline,
    /** parallel media uploads */
    mediaUploadConcurrency: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
    /** frames of push and folder-watch sources that may wait for inference, per pipeline */
    frameQueue: Type.Integer({ minimum: 1, maximum: 1024, default: 16 }),
    /**
     * the ffmpeg for rtsp, video and mjpeg (reader ffmpeg) sources and clips: "auto" (ffmpeg on
     * PATH, else the binary of the optional npm package @ffmpeg-installer/ffmpeg), "system",
     * "package", or a path
     */
    ffmpegPath: Type.String({ minLength: 1, default: "auto" }),
    /** the local status page, JSON API, Prometheus /metrics and push endpoint */
    status: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        /** 0 picks a free port */
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8090 }),
        /** 127.0.0.1 keeps it on the device; 0.0.0.0 lets line cameras push over the network */
        host: Type.String({ minLength: 1, default: "127.0.0.1" }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type AgentConfig = Readonly<
  Omit<Static<typeof AgentConfigSchema>, "sources" | "dataDir"> & {
    dataDir: string;
    sources: readonly SourceConfig[];
  }
>;

/** Command-line flags that override the file. */
export interface AgentConfigOverrides {
  deviceId?: string;
  hubUrl?: string;
  mqttUrl?: string;
  dataDir?: string;
  /** sources added to the file's, for running an agent from flags alone */
  sources?: unknown[];
  /** merged over the file's `status` (the keys given win) */
  status?: { port?: unknown; host?: unknown };
}

/**
 * Builds the frozen agent config from a JSON file path, JSON text or an object, then flag
 * overrides, then env (KENSA_DEVICE_SECRET, KENSA_DEVICE_SECRET_FILE). Throws a KensaError
 * KENSA_ERR_CONFIG_INVALID whose message and `details.issues` name every bad key path.
 */
export function loadAgentConfig(
  fileJsonOrObject: string | Record<string, unknown>,
  overrides: AgentConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): AgentConfig {
  const base = readInput(fileJsonOrObject);
  const merged: Record<string, unknown> = { ...base };
  const { sources: extraSources, status, ...scalars } = overrides;
  for (const [k, v] of Object.entries(scalars)) if (v !== undefined) merged[k] = v;
  const statusGiven = Object.entries(status ?? {}).filter(([, v]) => v !== undefined);
  if (statusGiven.length) {
    const fileStatus = merged.status && typeof merged.status === "object" ? merged.status : {};
    merged.status = { ...fileStatus, ...Object.fromEntries(statusGiven) };
  }
  if (extraSources?.length)
    merged.sources = [...(Array.isArray(merged.sources) ? merged.sources : []), ...extraSources];
  const secret = secretFromEnv(env);
  if (secret !== undefined) merged.secret = secret;

  const issues: Issue[] = [];
  let top: Static<typeof AgentConfigSchema> | undefined;
  try {
    top = parseWith(AgentConfigSchema, merged, "KENSA_ERR_CONFIG_INVALID", "agent config");
  } catch (err) {
    issues.push(...issuesOf(err, ""));
  }
  const rawSources = Array.isArray(merged.sources) ? merged.sources : [];
  const sources: SourceConfig[] = [];
  const seen = new Set<string>();
  rawSources.forEach((raw, i) => {
    const at = `/sources/${i}`;
    const { type, id } = raw && typeof raw === "object" ? (raw as { type?: unknown; id?: unknown }) : {};
    if (typeof id === "string") {
      if (seen.has(id)) issues.push({ path: `${at}/id`, message: `Duplicate source id "${id}"` });
      seen.add(id);
    }
    if (typeof type !== "string" || !Object.hasOwn(sourceConfigSchemas, type)) {
      const known = Object.keys(sourceConfigSchemas).join(", ");
      issues.push({ path: `${at}/type`, message: `Expected one of: ${known}` });
      return;
    }
    try {
      sources.push(parseWith(sourceConfigSchemas[type as SourceType], raw, "KENSA_ERR_CONFIG_INVALID") as SourceConfig);
    } catch (err) {
      issues.push(...issuesOf(err, at));
    }
  });
  const band = top?.capture.band;
  if (band && band[0] > band[1]) issues.push({ path: "/capture/band", message: "low must not exceed high" });
  if (issues.length > 0 || !top) {
    const list = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    throw new KensaError("KENSA_ERR_CONFIG_INVALID", `agent config is invalid: ${list}`, { issues });
  }
  return deepFreeze({
    ...top,
    dataDir: resolve(top.dataDir ?? `.kensa/agent-${top.deviceId}`),
    sources,
  });
}

function readInput(input: string | Record<string, unknown>): Record<string, unknown> {
  if (typeof input !== "string") return input;
  let text = input;
  if (!input.trimStart().startsWith("{")) {
    try {
      text = readFileSync(input, "utf8");
    } catch (err) {
      throw new KensaError("KENSA_ERR_CONFIG_INVALID", `cannot read agent config ${input}: ${(err as Error).message}`);
    }
  }
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("not a JSON object");
    return value as Record<string, unknown>;
  } catch (err) {
    throw new KensaError("KENSA_ERR_CONFIG_INVALID", `agent config is not valid JSON: ${(err as Error).message}`);
  }
}

function secretFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  if (env.KENSA_DEVICE_SECRET) return env.KENSA_DEVICE_SECRET;
  const file = env.KENSA_DEVICE_SECRET_FILE;
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new KensaError("KENSA_ERR_CONFIG_INVALID", `cannot read KENSA_DEVICE_SECRET_FILE: ${(err as Error).message}`);
  }
}

function issuesOf(err: unknown, prefix: string): Issue[] {
  if (!isKensaError(err)) throw err;
  const found = (err.details as { issues?: Issue[] } | undefined)?.issues ?? [];
  return found.map((i) => ({ path: `${prefix}${i.path === "/" ? "" : i.path}` || "/", message: i.message }));
}
