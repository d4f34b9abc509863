import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  CaptureSettings as Capture,
  DEVICE_ID_PATTERN,
  deepFreeze,
  deviceConfigIssues,
  type Issue,
  isKensaError,
  KensaError,
  MediaSettings as Media,
  OfflineSettings as Offline,
  parseWith,
} from "@kensa/contracts";
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
    /** signed bundles (docs/bundles.md): a trust root to pin, and refusing unsigned bundles before any key is held */
    bundleSigning: Type.Object(
      {
        /** a file with the signed trust root the enrollment reply's `trust` holds; pinned when the agent has none */
        trustRoot: Type.Optional(Type.String({ minLength: 1 })),
        /** refuse unsigned bundles even while the agent holds no keys (a hub that serves none) */
        require: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
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
    /**
     * keys of the remote config (docs/agent.md, "Remote configuration") pinned on this device:
     * they win over what the hub sets, objects key by key
     */
    overrides: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** false: ignore the config the hub sends and run this file alone */
    remoteConfig: Type.Boolean({ default: true }),
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
  return validateAgentConfig(merged);
}

/**
 * Checks and freezes a merged agent config (the file with flags and env applied, or that with a
 * remote config laid over it). Throws KENSA_ERR_CONFIG_INVALID naming every bad key path.
 */
export function validateAgentConfig(merged: Record<string, unknown>): AgentConfig {
  const issues: Issue[] = [];
  if (merged.overrides !== undefined) {
    issues.push(
      ...deviceConfigIssues(merged.overrides).map((i) => ({ ...i, path: `/overrides${i.path === "/" ? "" : i.path}` })),
    );
  }
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
