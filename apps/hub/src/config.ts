import { readFile } from "node:fs/promises";
import { type Issue, KensaError, parseWith } from "@kensa/contracts";
import { type Static, Type } from "@sinclair/typebox";
import { BlobsConfigSchema, checkBlobsConfig } from "./config/blobs-config.js";
import { DeviceThrottleConfigSchema } from "./config/device-throttle-config.js";
import { FederationConfigSchema } from "./config/federation-config.js";
import { IntegrityConfigSchema } from "./config/integrity-config.js";
import { LimitsConfigSchema } from "./config/limits-config.js";
import { RemoteWorkersConfigSchema } from "./config/remote-workers-config.js";
import { RetentionConfigSchema } from "./config/retention-config.js";
import { RolloutConfigSchema } from "./config/rollout-config.js";
import { SecretsConfigSchema } from "./config/secrets-config.js";
import { SigningConfigSchema } from "./config/signing-config.js";
import { SmsConfigSchema } from "./config/sms-config.js";
import { TelemetryConfigSchema } from "./config/telemetry-config.js";
import { ClientTlsSchema, EmbeddedBrokerTlsSchema, ServerTlsSchema } from "./config/tls-config.js";

const Port = Type.Integer({ minimum: 0, maximum: 65535, description: "TCP port; 0 picks a free one" });
const strict = { additionalProperties: false } as const;

const SqliteDatabase = Type.Object(
  {
    type: Type.Literal("sqlite"),
    /** file path, or ":memory:"; `<dataDir>/kensa.db` when omitted */
    path: Type.Optional(Type.String({ minLength: 1 })),
  },
  strict,
);

const PostgresDatabase = Type.Object(
  {
    type: Type.Literal("postgres"),
    url: Type.String({ pattern: "^postgres(ql)?://" }),
    /** schema holding Kensa's tables; created when missing */
    schema: Type.Optional(Type.String({ pattern: "^[a-z_][a-z0-9_]{0,62}$" })),
  },
  strict,
);

export const HubConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: ".kensa/hub" }),
    http: Type.Object(
      {
        /** loopback by default: other machines reach the hub only when this says so (e.g. "0.0.0.0") */
        host: Type.String({ minLength: 1, default: "127.0.0.1" }),
        port: Type.Integer({ ...Port, default: 8080 }),
        /** HTTPS from these certificate files (reloaded on SIGHUP) */
        tls: Type.Optional(ServerTlsSchema),
        /** base URL given to agents and used in notification links; derived from the bound address when omitted */
        publicUrl: Type.Optional(Type.String({ pattern: "^https?://" })),
      },
      { ...strict, default: {} },
    ),
    mqtt: Type.Object(
      {
        embedded: Type.Object(
          {
            enabled: Type.Boolean({ default: true }),
            host: Type.String({ minLength: 1, default: "127.0.0.1" }),
            port: Type.Integer({ ...Port, default: 1883 }),
            /** MQTT over TLS (only) on this listener, and optionally device client certificates */
            tls: Type.Optional(EmbeddedBrokerTlsSchema),
          },
          { ...strict, default: {} },
        ),
        /** external broker URL; required when the embedded broker is disabled */
        url: Type.Optional(Type.String({ pattern: "^(mqtts?|tcp|tls|wss?)://" })),
        username: Type.Optional(Type.String()),
        password: Type.Optional(Type.String()),
        /** CA (and client certificate) of the hub's client on an `mqtts://` external broker */
        tls: Type.Optional(ClientTlsSchema),
        /** the broker URL agents should use; derived from the embedded listener or `url` when omitted */
        publicUrl: Type.Optional(Type.String({ pattern: "^(mqtts?|tcp|tls|wss?)://" })),
        /**
         * an external Mosquitto with the dynamic-security plugin, whose device accounts the hub
         * keeps (docs/brokers.md); requires `url`, `username` and `password` (the hub's own
         * account, which the hub creates) and the embedded broker disabled
         */
        dynsec: Type.Object(
          {
            enabled: Type.Boolean({ default: false }),
            /** a dynsec client with the `admin` role (`mosquitto_ctrl dynsec init`) */
            adminUsername: Type.Optional(Type.String({ minLength: 1 })),
            adminPassword: Type.Optional(Type.String({ minLength: 1 })),
            /** ms between retries of a reconciliation or a revocation the broker did not take */
            retryMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 5000 }),
            /** ms the broker has to answer one batch of dynsec commands */
            timeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
          },
          { ...strict, default: {} },
        ),
        /**
         * this hub process's MQTT client id, fixed so the broker keeps its session across restarts;
         * `kensa-hub-<hostname>` when omitted. Every replica needs its own.
         */
        clientId: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_.:-]{1,64}$" })),
        /**
         * on an external broker, the shared-subscription group replicas split device messages in
         * (`$share/<group>/…`); "" subscribes plainly (every hub gets every message)
         */
        sharedGroup: Type.String({ pattern: "^[A-Za-z0-9_-]{0,64}$", default: "kensa-hub" }),
        /** ingest: most events committed in one transaction */
        maxBatch: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }),
      },
      { ...strict, default: {} },
    ),
    database: Type.Union([SqliteDatabase, PostgresDatabase], { default: { type: "sqlite" } }),
    /** admin API token; else env KENSA_ADMIN_TOKEN, else generated once into `<dataDir>/admin-token` */
    adminToken: Type.Optional(Type.String({ minLength: 16 })),
    /** `json` lines or `pretty` (for a person); env KENSA_LOG_FORMAT when omitted, else pretty on a terminal, JSON otherwise */
    logFormat: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("pretty")])),
    /** pino level (HTTP requests log at debug); env KENSA_LOG_LEVEL when omitted, else "info" */
    logLevel: Type.Optional(
      Type.Union([
        Type.Literal("fatal"),
        Type.Literal("error"),
        Type.Literal("warn"),
        Type.Literal("info"),
        Type.Literal("debug"),
        Type.Literal("trace"),
        Type.Literal("silent"),
      ]),
    ),
    smtp: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1 }),
          port: Type.Integer({ minimum: 1, maximum: 65535 }),
          secure: Type.Boolean({ default: false }),
          from: Type.String({ minLength: 3, default: "kensa@localhost" }),
          user: Type.Optional(Type.String()),
          /** a sealed `kensa:enc:v1:…` value (or plaintext, warned about); else `passFile`, else env KENSA_SMTP_PASS */
          pass: Type.Optional(Type.String()),
          /** file holding the SMTP password (mode 0600) */
          passFile: Type.Optional(Type.String({ minLength: 1 })),
        },
        strict,
      ),
    ),
    notifications: Type.Object(
      {
        /** delivery attempts per notification before it is marked failed */
        attempts: Type.Integer({ minimum: 1, maximum: 20, default: 3 }),
        /** ms before the first retry; doubles on each further retry */
        backoffMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 500 }),
        /**
         * ms a hub replica holds a notification it is sending; if it dies meanwhile, another sends
         * it after this. Longer than a send can take (webhooks time out at 10 s, e-mail at 40 s).
         */
        leaseMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 60_000 }),
      },
      { ...strict, default: {} },
    ),
    sms: SmsConfigSchema,
    training: Type.Object(
      {
        /** Python of the built-in trainer; else env KENSA_PYTHON, else `python3` if it imports torch, else /usr/bin/python3 */
        python: Type.Optional(Type.String({ minLength: 1 })),
        /** the built-in trainer's folder (holds kensa_trainer/); trainers/torch of this checkout when omitted */
        trainerDir: Type.Optional(Type.String({ minLength: 1 })),
        /** jobs (training, evaluation, gate) run at once by this hub; 0 = this hub runs none */
        workers: Type.Integer({ minimum: 0, maximum: 64, default: 1 }),
        /** where runs materialise their data and outputs; `<dataDir>/runs` when omitted */
        workDir: Type.Optional(Type.String({ minLength: 1 })),
        /** ms between looks at the queue and at label/cron triggers */
        pollMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
        /**
         * ms a hub's claim on a job lasts unless renewed (it renews a third of the way); a job of
         * a hub that died is taken over by another replica after this
         */
        leaseMs: Type.Integer({ minimum: 300, maximum: 3_600_000, default: 30_000 }),
        /** ms a cancelled trainer gets between SIGTERM and SIGKILL */
        killGraceMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 10_000 }),
        /**
         * further trainers by name, chosen per run (`trainer`) or per project: any program
         * honouring the trainer contract, started as `command… <job.json>` in `cwd`
         */
        trainers: Type.Record(
          Type.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" }),
          Type.Object(
            {
              command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
              cwd: Type.Optional(Type.String({ minLength: 1 })),
            },
            strict,
          ),
          { default: {} },
        ),
        /** training on other machines (`kensa worker`): tokens, leases, whether this hub trains too */
        remote: RemoteWorkersConfigSchema,
      },
      { ...strict, default: {} },
    ),
    auth: Type.Object(
      {
        /** hours a console sign-in lasts (from sign-in, not from last use) */
        sessionTtlHours: Type.Number({ exclusiveMinimum: 0, maximum: 8760, default: 12 }),
        deviceThrottle: DeviceThrottleConfigSchema,
      },
      { ...strict, default: {} },
    ),
    web: Type.Object(
      {
        /** the built console (index.html and assets/); apps/web/dist of this checkout when omitted */
        dir: Type.Optional(Type.String({ minLength: 1 })),
      },
      { ...strict, default: {} },
    ),
    limits: LimitsConfigSchema,
    retention: RetentionConfigSchema,
    secrets: SecretsConfigSchema,
    integrity: IntegrityConfigSchema,
    blobs: BlobsConfigSchema,
    rollout: RolloutConfigSchema,
    signing: SigningConfigSchema,
    telemetry: TelemetryConfigSchema,
    federation: FederationConfigSchema,
  },
  strict,
);

export type HubConfig = Static<typeof HubConfigSchema>;

/** What callers may pass: every key with a default may be left out, at any depth. */
export type HubConfigInput = DeepPartial<HubConfig>;
type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** Validates, applies defaults, rejects unknown keys (errors name the key path) and freezes. */
export function parseHubConfig(input: unknown): HubConfig {
  checkDatabaseVariant(input);
  const config = parseWith(HubConfigSchema, input, "KENSA_ERR_CONFIG_INVALID", "hub config");
  if (!config.mqtt.embedded.enabled && !config.mqtt.url) {
    throw new KensaError(
      "KENSA_ERR_CONFIG_INVALID",
      "hub config is invalid: /mqtt/url: required when /mqtt/embedded/enabled is false",
      {
        issues: [{ path: "/mqtt/url", message: "required when /mqtt/embedded/enabled is false" }],
      },
    );
  }
  checkDynsec(config);
  checkBlobsConfig(config.blobs);
  if (config.signing.command && !config.signing.publicKey) {
    const issues = [{ path: "/signing/publicKey", message: "required when /signing/command is set" }];
    throw new KensaError(
      "KENSA_ERR_CONFIG_INVALID",
      "hub config is invalid: /signing/publicKey: required when /signing/command is set",
      { issues },
    );
  }
  return config;
}

/** Managed Mosquitto accounts need an external broker, the hub's own account and the admin's. */
function checkDynsec(config: HubConfig): void {
  const { mqtt } = config;
  if (!mqtt.dynsec.enabled) return;
  const issues = [
    mqtt.embedded.enabled && {
      path: "/mqtt/embedded/enabled",
      message: "must be false when /mqtt/dynsec/enabled is true",
    },
    !mqtt.username && { path: "/mqtt/username", message: "required when /mqtt/dynsec/enabled is true" },
    !mqtt.password && { path: "/mqtt/password", message: "required when /mqtt/dynsec/enabled is true" },
    !mqtt.dynsec.adminUsername && {
      path: "/mqtt/dynsec/adminUsername",
      message: "required when /mqtt/dynsec/enabled is true",
    },
    !mqtt.dynsec.adminPassword && {
      path: "/mqtt/dynsec/adminPassword",
      message: "required when /mqtt/dynsec/enabled is true",
    },
  ].filter((i): i is Issue => !!i);
  if (!issues.length) return;
  const list = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  throw new KensaError("KENSA_ERR_CONFIG_INVALID", `hub config is invalid: ${list}`, { issues });
}

/**
 * A union only reports "Expected union value"; checking the variant the `type` names first
 * gives the key path of the actual mistake (e.g. `/database/url`).
 */
function checkDatabaseVariant(input: unknown): void {
  if (!isPlainObject(input) || !isPlainObject(input.database)) return;
  const variant = { sqlite: SqliteDatabase, postgres: PostgresDatabase }[String(input.database.type)];
  if (!variant) return;
  try {
    parseWith(variant, input.database, "KENSA_ERR_CONFIG_INVALID");
  } catch (err) {
    const issues = ((err as KensaError).details as { issues: Issue[] }).issues.map((i) => ({
      path: `/database${i.path === "/" ? "" : i.path}`,
      message: i.message,
    }));
    const list = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    throw new KensaError("KENSA_ERR_CONFIG_INVALID", `hub config is invalid: ${list}`, { issues });
  }
}

/**
 * Reads a JSON config file (or takes an object), deep-merges `overrides` (CLI flags) over it,
 * fills `adminToken` and `logLevel` from env when the file leaves them out, then validates.
 */
export async function loadHubConfig(
  fileOrObject?: string | Record<string, unknown>,
  env: Record<string, string | undefined> = process.env,
  overrides: Record<string, unknown> = {},
): Promise<HubConfig> {
  let base: unknown = {};
  if (typeof fileOrObject === "string") {
    let text: string;
    try {
      text = await readFile(fileOrObject, "utf8");
    } catch (err) {
      throw new KensaError(
        "KENSA_ERR_CONFIG_INVALID",
        `cannot read hub config ${fileOrObject}: ${(err as Error).message}`,
      );
    }
    try {
      base = JSON.parse(text);
    } catch (err) {
      throw new KensaError(
        "KENSA_ERR_CONFIG_INVALID",
        `hub config ${fileOrObject} is not JSON: ${(err as Error).message}`,
      );
    }
  } else if (fileOrObject) {
    base = fileOrObject;
  }
  const merged = deepMerge(base, overrides) as Record<string, unknown>;
  if (merged && typeof merged === "object" && !Array.isArray(merged)) {
    if (merged.adminToken === undefined && env.KENSA_ADMIN_TOKEN) merged.adminToken = env.KENSA_ADMIN_TOKEN;
    if (merged.logLevel === undefined && env.KENSA_LOG_LEVEL) merged.logLevel = env.KENSA_LOG_LEVEL;
    if (merged.logFormat === undefined && env.KENSA_LOG_FORMAT) merged.logFormat = env.KENSA_LOG_FORMAT;
  }
  return parseHubConfig(merged);
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (!isPlainObject(a) || !isPlainObject(b)) return b === undefined ? structuredClone(a) : structuredClone(b);
  const out: Record<string, unknown> = structuredClone(a);
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? deepMerge(out[k], v) : structuredClone(v);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v);
}
