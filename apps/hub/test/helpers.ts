import { randomBytes } from "node:crypto";
import { KensaClient } from "@kensa/client";
import type { Event } from "@kensa/contracts";
import { findPostgres, needService, type TempDir, tempDir } from "@kensa/testkit";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import pg from "pg";
import sharp from "sharp";
import { createHub, type Hub, type HubConfigInput, type HubDeps } from "../src/index.js";

export interface Backend {
  name: "sqlite" | "postgres";
  /** a fresh database config; `key` reuses one (a restarted hub on the same data) */
  database(key?: string): HubConfigInput["database"];
  /** drops what this backend created (Postgres schemas) */
  cleanup(): Promise<void>;
}

/**
 * SQLite always; PostgreSQL when reachable on 127.0.0.1:5432 (skipped with a printed reason
 * otherwise, or a failure under KENSA_REQUIRE_ALL=1). Each hub gets its own schema, dropped
 * at the end of the file.
 */
export async function backends(file: string): Promise<Backend[]> {
  const list: Backend[] = [{ name: "sqlite", database: () => ({ type: "sqlite" }), cleanup: async () => {} }];
  const PG_URL = await findPostgres();
  if (!needService(`PostgreSQL at 127.0.0.1:5432, database test (${file})`, PG_URL !== null) && PG_URL) {
    const schemas = new Map<string, string>();
    list.push({
      name: "postgres",
      database: (key) => {
        const k = key ?? randomBytes(4).toString("hex");
        let schema = schemas.get(k);
        if (!schema) {
          schema = `kensa_t_${file.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${process.pid}_${randomBytes(3).toString("hex")}`;
          schemas.set(k, schema);
        }
        return { type: "postgres", url: PG_URL, schema };
      },
      cleanup: async () => {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        try {
          for (const s of schemas.values()) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
        } finally {
          await client.end();
        }
      },
    });
  }
  return list;
}

export interface TestHub {
  hub: Hub;
  httpUrl: string;
  mqttUrl: string;
  dir: TempDir;
  call: ApiCall;
  /** the typed client, signed with the admin token */
  client: KensaClient;
  close(): Promise<void>;
}

export type ApiCall = <T = unknown>(
  method: string,
  path: string,
  opts?: { body?: unknown; auth?: string | null; headers?: Record<string, string>; raw?: BodyInit | Uint8Array },
) => Promise<{ status: number; json: T; headers: Headers }>;

/** A started hub on ephemeral ports in a temp dir (or `dir` to restart on the same data). */
export async function startHub(
  config: HubConfigInput = {},
  opts: { dir?: TempDir; deps?: HubDeps } = {},
): Promise<TestHub> {
  const dir = opts.dir ?? (await tempDir("kensa-hub-test-"));
  const hub = await createHub(
    {
      dataDir: dir.path,
      http: { host: "127.0.0.1", port: 0 },
      mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: 0 } },
      logLevel: (process.env.KENSA_TEST_LOG as "info" | undefined) ?? "silent",
      ...config,
    },
    opts.deps,
  );
  const { httpUrl, mqttUrl } = await hub.start();
  const call = apiCall(httpUrl, `Bearer ${hub.adminToken}`);
  return {
    hub,
    httpUrl,
    mqttUrl,
    dir,
    call,
    client: new KensaClient({ baseUrl: httpUrl, auth: { kind: "bearer", token: hub.adminToken } }),
    close: async () => {
      // a close that hangs fails the hook by timeout; this says what it was waiting for
      const watch = setInterval(() => process.stderr.write(`hub close still waiting for: ${hub.closing}\n`), 10_000);
      try {
        await hub.close();
      } finally {
        clearInterval(watch);
      }
      if (!opts.dir) await dir.remove();
    },
  };
}

export function apiCall(baseUrl: string, defaultAuth: string | null): ApiCall {
  return async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const auth = opts.auth === undefined ? defaultAuth : opts.auth;
    if (auth) headers.authorization = auth;
    // Node's fetch sends a Buffer or Uint8Array as it is; TypeScript's DOM types only lack the overload
    let body = opts.raw as BodyInit | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["content-type"] = "application/json";
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, json: json as never, headers: res.headers };
  };
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
}

/** A real MQTT.js client as a device; rejects on a refused CONNECT. */
export function connectDevice(
  url: string,
  id: string,
  secret: string,
  extra: IClientOptions = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    username: id,
    password: secret,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    protocolVersion: 4,
    ...extra,
  });
}

/** The QoS the broker granted, or 128 (0x80) when it refused the subscription. */
export function subscribeQos(client: MqttClient, topic: string): Promise<number> {
  return new Promise((resolve, reject) => {
    client.subscribe(topic, { qos: 1 }, (err, granted) => {
      const code = (err as (Error & { packet?: { granted?: number[] } }) | null)?.packet?.granted?.[0];
      if (typeof code === "number" && (code & 0x80) !== 0) return resolve(code);
      if (err) return reject(err);
      resolve(granted?.[0]?.qos ?? -1);
    });
  });
}

/** Resolves with the first message on `topic`, or rejects after `ms`. */
export function nextMessage(
  client: MqttClient,
  topic: string,
  ms = 5000,
): Promise<{ payload: Buffer; retain: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off("message", onMessage);
      reject(new Error(`no message on ${topic} within ${ms} ms`));
    }, ms);
    const onMessage = (t: string, payload: Buffer, packet: { retain: boolean }) => {
      if (t !== topic) return;
      clearTimeout(timer);
      client.off("message", onMessage);
      resolve({ payload, retain: packet.retain });
    };
    client.on("message", onMessage);
  });
}

let seq = 0;

/** A valid event from `deviceId` (override any field). */
export function makeEvent(deviceId: string, over: Partial<Event> & { label?: string; score?: number } = {}): Event {
  const { label = "ok", score = 0.9, ...rest } = over;
  seq++;
  return {
    v: 1,
    id: `evt-${randomBytes(8).toString("hex")}`,
    seq,
    deviceId,
    pipeline: "default",
    sourceId: "cam",
    ts: new Date().toISOString(),
    bundle: { sha256: "a".repeat(64), modelVersionId: "mdl_test" },
    frame: { width: 64, height: 64, meta: { frame: seq } },
    result: {
      task: "classification",
      label,
      score,
      scores: { ok: label === "ok" ? score : 1 - score, defect: label === "defect" ? score : 1 - score },
      finding: label !== "ok",
    },
    latencyMs: { preprocess: 1, inference: 2, total: 3 },
    media: false,
    ...rest,
  };
}

export const projectBody = (slug: string, extra: Record<string, unknown> = {}) => ({
  slug,
  name: `Project ${slug}`,
  task: "classification",
  labels: ["ok", "defect"],
  okLabels: ["ok"],
  ...extra,
});

/** Creates a project and enrolls devices in it; returns ids and secrets. */
export async function seed(
  call: ApiCall,
  slug: string,
  devices: Array<{ id: string; tags?: string[] }>,
  projectExtra: Record<string, unknown> = {},
): Promise<{ projectId: string; secrets: Record<string, string> }> {
  const p = await call<{ id: string }>("POST", "/api/v1/projects", { body: projectBody(slug, projectExtra) });
  if (p.status !== 201) throw new Error(`create project: ${p.status} ${JSON.stringify(p.json)}`);
  const secrets: Record<string, string> = {};
  for (const d of devices) {
    const e = await call<{ secret: string }>("POST", "/api/v1/devices", {
      body: { projectId: p.json.id, id: d.id, tags: d.tags ?? [] },
    });
    if (e.status !== 201) throw new Error(`enroll ${d.id}: ${e.status} ${JSON.stringify(e.json)}`);
    secrets[d.id] = e.json.secret;
  }
  return { projectId: p.json.id, secrets };
}

/** A minimal complete PNG (1x1) and JPEG, as devices would upload. */
export const PNG_1x1 = await sharp({ create: { width: 1, height: 1, channels: 4, background: "#00000000" } })
  .png()
  .toBuffer();
/** a real, decodable 16×16 JPEG (the hub fully decodes media) */
export const JPEG_TINY = await sharp({ create: { width: 16, height: 16, channels: 3, background: "#808080" } })
  .jpeg()
  .toBuffer();
