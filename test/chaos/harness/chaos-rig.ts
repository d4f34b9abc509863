import { type ChildProcess, fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KensaClient } from "@kensa/client";
import { fleetRoutes } from "@kensa/contracts";
import { createInspectionProject } from "@kensa/scenario";
import { freePort, type MosquittoProcess, mosquittoProcess, waitFor } from "@kensa/testkit";
import Database from "better-sqlite3";
import pg from "pg";
import type { DeviceSimOptions } from "./device-sim.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const TSX = ["--import", "tsx"];

export interface ChaosMode {
  broker: "embedded" | "mosquitto";
  db: "sqlite" | "postgres";
  replicas: 1 | 2;
}

export function modeName(m: ChaosMode): string {
  const broker = m.broker === "embedded" ? "embedded Aedes" : "Mosquitto";
  const db = m.db === "sqlite" ? "SQLite" : "PostgreSQL";
  return `${broker} + ${db}${m.replicas > 1 ? `, ${m.replicas} replicas` : ""}`;
}

interface HubChild {
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
}

export interface SimDevice {
  deviceId: string;
  secret: string;
  dataDir: string;
  child: ChildProcess | null;
  exited: Promise<void>;
}

export interface DeliveryCount {
  /** events the devices created (their gap-free seq counters) */
  sent: number;
  /** distinct (device, seq) stored at the hub */
  stored: number;
  lost: number;
  duplicated: number;
  /** events still in the devices' outboxes */
  onDevices: number;
}

export interface RigOptions {
  dir: string;
  mode: ChaosMode;
  pgUrl: string | null;
  /** wraps the first hub in its own mount namespace with a tmpfs of this many MiB as its data dir */
  tmpfsMiB?: number;
}

/**
 * Real processes for delivery faults: the hub (one or two replicas, each a child process), an
 * external Mosquitto when the mode asks, PostgreSQL in a schema of its own, and devices that run
 * the agent's outbox, link and publisher. Every fault is something a process or a host suffers:
 * SIGKILL, a restart, a full disk, dropped database connections, a locked table.
 */
export class ChaosRig {
  readonly o: RigOptions;
  readonly adminToken = randomBytes(24).toString("base64url");
  readonly schema = `kensa_chaos_${process.pid}_${randomBytes(3).toString("hex")}`;
  readonly devices: SimDevice[] = [];
  hubs: Array<HubChild | null> = [];
  httpPorts: number[] = [];
  mqttPort = 0;
  mosquitto: MosquittoProcess | null = null;
  #client: KensaClient | null = null;

  constructor(o: RigOptions) {
    this.o = o;
  }

  get hubDataDir(): string {
    return join(this.o.dir, "hub");
  }

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  get client(): KensaClient {
    if (!this.#client) throw new Error("the rig has not started");
    return this.#client;
  }

  async start(): Promise<void> {
    await mkdir(this.hubDataDir, { recursive: true });
    this.mqttPort = await freePort();
    if (this.o.mode.broker === "mosquitto") await this.startBroker();
    for (let i = 0; i < this.o.mode.replicas; i++) {
      this.httpPorts.push(await freePort());
      this.hubs.push(null);
      await this.startHub(i);
    }
    this.#client = new KensaClient({
      baseUrl: `http://127.0.0.1:${this.httpPorts[0]}`,
      auth: { kind: "bearer", token: this.adminToken },
    });
  }

  hubConfig(i: number): Record<string, unknown> {
    const { mode, pgUrl } = this.o;
    return {
      dataDir: this.hubDataDir,
      adminToken: this.adminToken,
      logLevel: process.env.KENSA_TEST_LOG ?? "silent",
      http: { host: "127.0.0.1", port: this.httpPorts[i] },
      mqtt:
        mode.broker === "embedded"
          ? { embedded: { enabled: true, host: "127.0.0.1", port: this.mqttPort }, clientId: `chaos-hub-${i}` }
          : { embedded: { enabled: false }, url: this.mqttUrl, clientId: `chaos-hub-${i}` },
      database: mode.db === "sqlite" ? { type: "sqlite" } : { type: "postgres", url: pgUrl, schema: this.schema },
      training: { workers: 0 },
    };
  }

  async startHub(i: number): Promise<void> {
    const config = JSON.stringify(this.hubConfig(i));
    const file = join(here, "hub-child.ts");
    let child: ChildProcess;
    if (i === 0 && this.o.tmpfsMiB) {
      // its own mount namespace: the tmpfs is the hub's alone and goes with it
      const script = `mount -t tmpfs -o size=${this.o.tmpfsMiB}m tmpfs "$1" && shift && exec "$@"`;
      child = spawn(
        "unshare",
        ["-rm", "sh", "-c", script, "sh", this.hubDataDir, process.execPath, ...TSX, file, config],
        { stdio: ["ignore", "inherit", "inherit", "ipc"] },
      );
    } else {
      child = fork(file, [config], { execArgv: TSX, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    }
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const started = new Promise<{ pid: number }>((resolve, reject) => {
      child.once("message", (m: { pid: number }) => resolve(m));
      child.once("exit", (code) => reject(new Error(`hub ${i} exited with ${code} before it started`)));
    });
    const { pid } = await started;
    this.hubs[i] = { child, pid, exited };
  }

  hubPid(i: number): number {
    const h = this.hubs[i];
    if (!h) throw new Error(`hub ${i} is not running`);
    return h.pid;
  }

  async killHub(i: number): Promise<void> {
    const h = this.hubs[i];
    if (!h) return;
    h.child.kill("SIGKILL");
    await h.exited;
    this.hubs[i] = null;
  }

  /** Starts Mosquitto (again, on the same port after a kill): anonymous, no persistence. */
  async startBroker(): Promise<void> {
    if (this.mosquitto) return this.mosquitto.start();
    this.mosquitto = await mosquittoProcess({
      dir: this.o.dir,
      port: this.mqttPort,
      lines: ["allow_anonymous true", "persistence false", "log_type error"],
    });
  }

  async killBroker(): Promise<void> {
    await this.mosquitto?.stop("SIGKILL");
  }

  /** A project and `n` devices, each with its own outbox directory. */
  async enroll(n: number): Promise<void> {
    const project = await createInspectionProject(this.client, { slug: `chaos-${randomBytes(3).toString("hex")}` });
    for (let k = 0; k < n; k++) {
      const e = await this.client.call(fleetRoutes.enroll, {
        body: { projectId: project.id, id: `sim-${k}-${randomBytes(2).toString("hex")}`, tags: [] },
      });
      const dataDir = join(this.o.dir, `device-${k}`);
      await mkdir(dataDir, { recursive: true });
      this.devices.push({ deviceId: e.device.id, secret: e.secret, dataDir, child: null, exited: Promise.resolve() });
    }
  }

  startDevice(d: SimDevice, rate: number): void {
    const opts: DeviceSimOptions = {
      dataDir: d.dataDir,
      deviceId: d.deviceId,
      secret: d.secret,
      mqttUrl: this.mqttUrl,
      rate,
      hubAckTimeoutMs: 2000,
    };
    const child = fork(join(here, "device-sim.ts"), [JSON.stringify(opts)], {
      execArgv: TSX,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    d.child = child;
    d.exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  }

  async killDevice(d: SimDevice): Promise<void> {
    d.child?.kill("SIGKILL");
    await d.exited;
    d.child = null;
  }

  stopProducing(): void {
    for (const d of this.devices) d.child?.send({ type: "stop" });
  }

  async deviceStatus(d: SimDevice): Promise<{ seq: number; depth: number }> {
    const child = d.child;
    if (!child) throw new Error(`device ${d.deviceId} is not running`);
    return new Promise((resolve) => {
      const on = (m: { type?: string; seq: number; depth: number }) => {
        if (m.type !== "status") return;
        child.off("message", on);
        resolve(m);
      };
      child.on("message", on);
      child.send({ type: "status" });
    });
  }

  /** Waits until every device's outbox is empty: the hub confirmed everything. */
  async drained(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      "every outbox to drain",
      async () => {
        for (const d of this.devices) if ((await this.deviceStatus(d)).depth > 0) return false;
        return true;
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** Counts by (device, seq) what the devices made against what the hub's database holds. */
  async count(): Promise<DeliveryCount> {
    const rows = await this.storedRows();
    const c: DeliveryCount = { sent: 0, stored: 0, lost: 0, duplicated: 0, onDevices: 0 };
    for (const d of this.devices) {
      const { seq, depth } = await this.deviceStatus(d);
      c.sent += seq;
      c.onDevices += depth;
      const mine = rows.filter((r) => r.device_id === d.deviceId);
      const seqs = new Set(mine.map((r) => Number(r.seq)));
      c.stored += seqs.size;
      c.duplicated += mine.length - seqs.size;
      for (let s = 1; s <= seq; s++) if (!seqs.has(s)) c.lost++;
    }
    return c;
  }

  async storedRows(): Promise<Array<{ device_id: string; seq: number }>> {
    if (this.o.mode.db === "postgres") {
      const client = new pg.Client({ connectionString: this.o.pgUrl ?? "" });
      await client.connect();
      try {
        return (await client.query(`SELECT device_id, seq FROM "${this.schema}".events`)).rows;
      } finally {
        await client.end();
      }
    }
    // a hub on a tmpfs of its own is the only process that sees the file
    if (this.o.tmpfsMiB)
      return (await this.askHub(0, { type: "rows" })).rows as Array<{ device_id: string; seq: number }>;
    const db = new Database(join(this.hubDataDir, "kensa.db"), { readonly: true, fileMustExist: true });
    try {
      return db.prepare<[], { device_id: string; seq: number }>("SELECT device_id, seq FROM events").all();
    } finally {
      db.close();
    }
  }

  /** Sends a harness request to a hub process and waits for its answer. */
  askHub(i: number, m: { type: string; leaveBytes?: number }): Promise<Record<string, unknown>> {
    const h = this.hubs[i];
    if (!h) throw new Error(`hub ${i} is not running`);
    return new Promise((resolve) => {
      const on = (reply: { type?: string }) => {
        if (reply.type !== `${m.type}:done`) return;
        h.child.off("message", on);
        resolve(reply as Record<string, unknown>);
      };
      h.child.on("message", on);
      h.child.send(m);
    });
  }

  /** Drops every database connection the hubs hold, as a PostgreSQL restart does to its clients. */
  async dropDatabaseConnections(): Promise<number> {
    const client = new pg.Client({ connectionString: this.o.pgUrl ?? "" });
    await client.connect();
    try {
      const r = await client.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
        [`kensa-hub ${this.schema}`.slice(0, 63)],
      );
      return r.rowCount ?? 0;
    } finally {
      await client.end();
    }
  }

  /** Holds the events table locked for `ms`: every write of the hubs waits behind it. */
  async lockEvents(ms: number): Promise<void> {
    if (this.o.mode.db === "postgres") {
      const client = new pg.Client({ connectionString: this.o.pgUrl ?? "" });
      await client.connect();
      try {
        await client.query("BEGIN");
        await client.query(`LOCK TABLE "${this.schema}".events IN ACCESS EXCLUSIVE MODE`);
        await new Promise((r) => setTimeout(r, ms));
        await client.query("COMMIT");
      } finally {
        await client.end();
      }
      return;
    }
    const db = new Database(join(this.hubDataDir, "kensa.db"));
    try {
      db.exec("BEGIN IMMEDIATE");
      await new Promise((r) => setTimeout(r, ms));
      db.exec("COMMIT");
    } finally {
      db.close();
    }
  }

  async health(i = 0): Promise<{ status: string; problems: Array<{ code: string }> }> {
    const res = await fetch(`http://127.0.0.1:${this.httpPorts[i]}/health`);
    return (await res.json()) as { status: string; problems: Array<{ code: string }> };
  }

  async close(): Promise<void> {
    for (const d of this.devices) {
      d.child?.disconnect();
      await Promise.race([d.exited, new Promise((r) => setTimeout(r, 3000))]);
      d.child?.kill("SIGKILL");
    }
    for (const h of this.hubs) {
      if (!h) continue;
      h.child.kill("SIGTERM");
      await Promise.race([h.exited, new Promise((r) => setTimeout(r, 10_000))]);
      h.child.kill("SIGKILL");
    }
    await this.mosquitto?.stop();
    if (this.o.mode.db === "postgres" && this.o.pgUrl) {
      const client = new pg.Client({ connectionString: this.o.pgUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`).finally(() => client.end());
    }
  }
}
