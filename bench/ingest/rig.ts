/**
 * What one ingest mode runs on: a broker (embedded Aedes, a bare Aedes, or a Mosquitto of the
 * bench's own), zero, one or two hub processes on SQLite or a fresh PostgreSQL schema, or a bare
 * subscriber answering for a hub, plus the enrolled devices and a way to read the hub's database.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fleetRoutes } from "@kensa/contracts";
import { HubConfigSchema } from "@kensa/hub";
import { adminClient, createInspectionProject } from "@kensa/scenario";
import { findPostgres as testkitFindPostgres } from "@kensa/testkit";
import Database from "better-sqlite3";
import pg from "pg";
import type { AckerMessage } from "./acker.js";
import type { BareAedesMessage } from "./bare-aedes.js";
import { cpuMicros, forkTs, nextMessage, stopChild } from "./child.js";
import type { HubProcMessage } from "./hub-proc.js";
import type { LoadDevice } from "./load-gen.js";
import { dynsecPlugin, startMosquitto } from "./mosquitto.js";

export type ModeId =
  | "bare-aedes"
  | "embedded-sqlite"
  | "embedded-postgres"
  | "bare-mosquitto"
  | "mosquitto-sqlite"
  | "mosquitto-postgres"
  | "mosquitto-postgres-x2";

export interface ModeSpec {
  id: ModeId;
  label: string;
  broker: "aedes" | "mosquitto";
  /** 0: a bare subscriber answers for the hub */
  hubs: 0 | 1 | 2;
  database: "sqlite" | "postgres" | null;
}

export const modes: readonly ModeSpec[] = [
  { id: "bare-aedes", label: "bare Aedes", broker: "aedes", hubs: 0, database: null },
  { id: "embedded-sqlite", label: "embedded Aedes + SQLite", broker: "aedes", hubs: 1, database: "sqlite" },
  { id: "embedded-postgres", label: "embedded Aedes + PostgreSQL", broker: "aedes", hubs: 1, database: "postgres" },
  { id: "bare-mosquitto", label: "bare Mosquitto", broker: "mosquitto", hubs: 0, database: null },
  { id: "mosquitto-sqlite", label: "Mosquitto + SQLite", broker: "mosquitto", hubs: 1, database: "sqlite" },
  { id: "mosquitto-postgres", label: "Mosquitto + PostgreSQL", broker: "mosquitto", hubs: 1, database: "postgres" },
  {
    id: "mosquitto-postgres-x2",
    label: "2 hubs, Mosquitto + PostgreSQL",
    broker: "mosquitto",
    hubs: 2,
    database: "postgres",
  },
];

/** A stored event as the bench reads it back. */
export interface StoredRow {
  id: string;
  deviceId: string;
  seq: number;
  /** epoch ms */
  receivedAt: number;
}

export interface Rig {
  mode: ModeSpec;
  mqttUrl: string;
  /** enrolled devices by group name: each cell takes a group of its own (fresh seq from 1) */
  groups: Map<string, LoadDevice[]>;
  /** µs of CPU of the hubs (or the bare subscriber), and of a broker process outside them */
  hubCpu(): number;
  brokerCpu(): number | null;
  /** per hub: what its ingest counted */
  counters(): Promise<Array<Record<string, number>>>;
  /** events stored (0 without a hub) */
  count(): Promise<number>;
  rows(): Promise<StoredRow[]>;
  /** devices authenticate through Mosquitto's dynamic security (else anonymously, or on the embedded broker) */
  dynsec: boolean;
  /** the hubs' error log lines since the last call, counted by message */
  takeErrors(): Record<string, number>;
  close(): Promise<void>;
}

/** The PostgreSQL URL the bench can use (database `test` on 127.0.0.1:5432), or null. */
export const findPostgres = testkitFindPostgres;

export interface RigOptions {
  /** a temp dir for hub data and broker config */
  dir: string;
  /** device groups to enroll: name → count */
  groups: Array<{ name: string; count: number }>;
  /** PostgreSQL URL for postgres modes */
  pgUrl?: string | null;
  /** hub config merged into each replica's (e.g. how replicas share the events subscription) */
  replicaConfig?: Record<string, unknown>;
}

export async function startRig(mode: ModeSpec, opts: RigOptions): Promise<Rig> {
  const cleanups: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    return await buildRig(mode, opts, cleanups, close);
  } catch (err) {
    await close();
    throw err;
  }
}

async function buildRig(
  mode: ModeSpec,
  opts: RigOptions,
  cleanups: Array<() => Promise<void>>,
  close: () => Promise<void>,
): Promise<Rig> {
  let brokerUrl: string | null = null;
  let brokerPid: number | null = null;
  let dynsecAdmin: { username: string; password: string } | null = null;
  if (mode.broker === "mosquitto") {
    // hubs manage device accounts through dynamic security where the hub and broker have it
    const plugin = mode.hubs > 0 && configKnows("dynsec") ? dynsecPlugin() : null;
    const m = await startMosquitto(opts.dir, plugin);
    dynsecAdmin = m.dynsecAdmin;
    cleanups.push(() => m.close());
    brokerUrl = m.url;
    brokerPid = m.pid;
  } else if (mode.hubs === 0) {
    const { child } = forkTs(join(import.meta.dirname, "bare-aedes.ts"));
    cleanups.push(() => stopChild(child, { type: "close" }));
    const { port } = await nextMessage<BareAedesMessage>(child, "started");
    brokerUrl = `mqtt://127.0.0.1:${port}`;
    brokerPid = child.pid ?? null;
  }

  const groups = new Map<string, LoadDevice[]>();
  const errors = new Map<string, number>();
  // the hubs' error log lines (pino JSON, level 50 and up), counted by message
  const noteError = (line: string) => {
    if (!line.startsWith("{")) return;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: string };
      if ((entry.level ?? 0) < 50) return;
      const key = entry.err ? `${entry.msg}: ${entry.err}` : String(entry.msg);
      errors.set(key, (errors.get(key) ?? 0) + 1);
    } catch {
      // not a log line
    }
  };
  const hubPids: number[] = [];
  const hubChildren: Array<ReturnType<typeof forkTs>["child"]> = [];
  let count: () => Promise<number> = async () => 0;
  let rows: () => Promise<StoredRow[]> = async () => [];
  let mqttUrl = brokerUrl ?? "";

  if (mode.hubs === 0) {
    const { child } = forkTs(join(import.meta.dirname, "acker.ts"), [mqttUrl]);
    cleanups.push(() => stopChild(child, { type: "close" }));
    const ready = await nextMessage<AckerMessage>(child, "ready");
    hubPids.push(ready.pid);
    for (const g of opts.groups) {
      groups.set(
        g.name,
        Array.from({ length: g.count }, (_, i) => ({ id: `${g.name}-${i}`, secret: null })),
      );
    }
  } else {
    const adminToken = randomBytes(24).toString("hex");
    const hubMqttPassword = randomBytes(18).toString("base64url");
    let database: Record<string, unknown>;
    let dbPath = "";
    if (mode.database === "postgres") {
      if (!opts.pgUrl) throw new Error("PostgreSQL is not available");
      const pgUrl = opts.pgUrl;
      const schema = `kensa_bench_${process.pid}_${randomBytes(3).toString("hex")}`;
      database = { type: "postgres", url: pgUrl, schema };
      const reader = new pg.Client({ connectionString: pgUrl });
      await reader.connect();
      cleanups.push(async () => {
        await reader.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await reader.end();
      });
      count = async () => Number((await reader.query(`SELECT count(*) AS n FROM "${schema}".events`)).rows[0].n);
      rows = async () =>
        (await reader.query(`SELECT id, device_id, seq, received_at FROM "${schema}".events`)).rows.map(toRow);
    } else {
      dbPath = join(opts.dir, "kensa.db");
      database = { type: "sqlite", path: dbPath };
    }
    for (let r = 0; r < mode.hubs; r++) {
      const config = {
        dataDir: join(opts.dir, `hub-${r}`),
        http: { host: "127.0.0.1", port: 0 },
        mqtt:
          mode.broker === "aedes"
            ? { embedded: { enabled: true, host: "127.0.0.1", port: 0 } }
            : {
                embedded: { enabled: false },
                url: brokerUrl,
                // every replica needs its own session on the broker (hubs that have the key)
                ...(configKnows("clientId") ? { clientId: `bench-hub-${r}-${randomBytes(3).toString("hex")}` } : {}),
                ...(dynsecAdmin
                  ? {
                      username: "kensa-hub",
                      password: hubMqttPassword,
                      dynsec: {
                        enabled: true,
                        adminUsername: dynsecAdmin.username,
                        adminPassword: dynsecAdmin.password,
                      },
                    }
                  : {}),
              },
        database,
        adminToken,
        logLevel: "warn",
        // the bench measures ingest; no trainer polls the queue meanwhile
        training: { workers: 0 },
        // replicas are one hub: they share its signing and sealing keys (docs/replicas.md)
        signing: { keyFile: join(opts.dir, "bundle-signing.key") },
        secrets: { keyFile: join(opts.dir, "secrets.key") },
        ...(mode.hubs > 1 ? opts.replicaConfig : {}),
      };
      const hub = forkTs(join(import.meta.dirname, "hub-proc.ts"), [JSON.stringify(config)], noteError);
      cleanups.push(() => stopChild(hub.child, { type: "close" }, 10_000));
      // replicas start one after another: the first one migrates the database
      const started = await nextMessage<Extract<HubProcMessage, { type: "started" }>>(hub.child, "started").catch(
        (err: Error) => {
          throw new Error(`${err.message}\n${hub.output()}`);
        },
      );
      hubPids.push(started.pid);
      hubChildren.push(hub.child);
      if (r > 0) continue;
      mqttUrl = started.mqttUrl;
      const api = adminClient(started.httpUrl, started.adminToken);
      const project = await createInspectionProject(api, { slug: "bench" });
      for (const g of opts.groups) {
        const list: LoadDevice[] = [];
        for (let i = 0; i < g.count; i += 10) {
          const batch = Array.from({ length: Math.min(10, g.count - i) }, (_, k) => `${g.name}-${i + k}`);
          const enrolled = await Promise.all(
            batch.map((id) => api.call(fleetRoutes.enroll, { body: { projectId: project.id, id, tags: [] } })),
          );
          list.push(...enrolled.map((e) => ({ id: e.device.id, secret: e.secret })));
        }
        groups.set(g.name, list);
      }
    }
    if (mode.database === "sqlite") {
      const reader = new Database(dbPath, { readonly: true, fileMustExist: true });
      cleanups.push(async () => {
        reader.close();
      });
      count = async () => (reader.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n;
      rows = async () =>
        (reader.prepare("SELECT id, device_id, seq, received_at FROM events").all() as RawRow[]).map(toRow);
    }
  }

  return {
    mode,
    mqttUrl,
    groups,
    hubCpu: () => hubPids.reduce((s, pid) => s + cpuMicros(pid), 0),
    brokerCpu: () => (brokerPid ? cpuMicros(brokerPid) : null),
    counters: () =>
      Promise.all(
        hubChildren.map(async (c) => {
          const m = nextMessage<Extract<HubProcMessage, { type: "counters" }>>(c, "counters", 10_000);
          c.send({ type: "counters" });
          return (await m).counters;
        }),
      ),
    count,
    rows,
    dynsec: dynsecAdmin !== null,
    takeErrors: () => {
      const out = Object.fromEntries(errors);
      errors.clear();
      return out;
    },
    close,
  };
}

/** Whether this hub's config has `mqtt.<key>` (the bench runs against hubs before and after it). */
function configKnows(key: string): boolean {
  const mqtt = (HubConfigSchema.properties as Record<string, { properties?: Record<string, unknown> }>).mqtt;
  return key in (mqtt?.properties ?? {});
}

interface RawRow {
  id: string;
  device_id: string;
  seq: number | string;
  received_at: string | Date;
}

function toRow(r: RawRow): StoredRow {
  return {
    id: r.id,
    deviceId: r.device_id,
    seq: Number(r.seq),
    receivedAt: r.received_at instanceof Date ? r.received_at.getTime() : Date.parse(r.received_at),
  };
}
