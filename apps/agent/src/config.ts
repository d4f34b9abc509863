import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { DEVICE_ID_PATTERN, deepFreeze, type Issue, isKensaError, KensaError, parseWith } from "@kensa/contracts";
import { type Static, type TSchema, Type } from "@sinclair/typebox";

const SourceId = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description: "unique per agent" });

export const SyntheticSourceConfig = Type.Object(
  {
    id: SourceId,
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
  },
  { additionalProperties: false },
);
export type SyntheticSourceConfig = Static<typeof SyntheticSourceConfig>;

export const FolderSourceConfig = Type.Object(
  {
    id: SourceId,
    type: Type.Literal("folder"),
    /** a directory of .jpg/.jpeg/.png files, read in name order */
    path: Type.String({ minLength: 1 }),
    /** frames per second */
    fps: Type.Number({ exclusiveMinimum: 0, maximum: 120, default: 2 }),
    loop: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);
export type FolderSourceConfig = Static<typeof FolderSourceConfig>;

/**
 * Source config schemas keyed by `type`. Each variant is validated on its own schema so
 * errors name the exact key (`/sources/0/fps`), which a TypeBox union cannot do.
 */
export const sourceConfigSchemas = {
  synthetic: SyntheticSourceConfig,
  folder: FolderSourceConfig,
} as const satisfies Record<string, TSchema>;

export type SourceType = keyof typeof sourceConfigSchemas;
export const SourceConfig = Type.Union(Object.values(sourceConfigSchemas));
export type SourceConfig = { [K in SourceType]: Static<(typeof sourceConfigSchemas)[K]> }[SourceType];

export const AgentConfigSchema = Type.Object(
  {
    deviceId: Type.String({ pattern: DEVICE_ID_PATTERN }),
    /** the device secret; prefer env KENSA_DEVICE_SECRET or KENSA_DEVICE_SECRET_FILE over the file */
    secret: Type.String({ minLength: 1 }),
    /** base URL of the hub's HTTP API, e.g. http://hub:8080 */
    hubUrl: Type.String({ pattern: "^https?://[^\\s]+$" }),
    /** broker URL, e.g. mqtt://hub:1883 */
    mqttUrl: Type.String({ pattern: "^(mqtts?|wss?|tcp|ssl)://[^\\s]+$" }),
    /** where the outbox, media and bundles live; default `.kensa/agent-<deviceId>` */
    dataDir: Type.Optional(Type.String({ minLength: 1 })),
    sources: Type.Array(Type.Unknown(), { default: [] }),
    /** the pipeline id this agent's sources feed, as named in the desired state */
    pipeline: Type.String({ minLength: 1, default: "default" }),
    /** ms between telemetry messages */
    telemetryIntervalMs: Type.Integer({ minimum: 100, default: 5000 }),
    /** ms between unsolicited reported-state messages */
    reportIntervalMs: Type.Integer({ minimum: 1000, default: 30_000 }),
    /** ONNX Runtime intra-op threads; the runtime's default (cores) when omitted */
    intraOpThreads: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
    /** parallel media uploads */
    mediaUploadConcurrency: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
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
  const { sources: extraSources, ...scalars } = overrides;
  for (const [k, v] of Object.entries(scalars)) if (v !== undefined) merged[k] = v;
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
