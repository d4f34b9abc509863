/**
 * The ingest bench's load generator, its own process so it does not share the hub's event loop or
 * CPU accounting: N simulated devices, one mqtt.js client each, publishing events QoS 1 with at most
 * `window` unconfirmed per device, keeping each until it is confirmed and publishing it again when it
 * stays unconfirmed for `resendMs`, as an agent's outbox does. Confirmed means the hub's `acks`
 * message (when the device's desired state says `eventAcks: "hub"`, or always against a bare broker
 * whose subscriber answers for the hub), else the broker's PUBACK (hubs before the confirmation).
 */
import { performance } from "node:perf_hooks";
import { type Event, type EventAcks, newEventId, topics } from "@kensa/contracts";
import mqtt, { type MqttClient } from "mqtt";

export interface LoadDevice {
  id: string;
  /** null against a bare broker (anonymous) */
  secret: string | null;
}

export type Confirmation = "hub" | "puback";

export interface LoadSetup {
  type: "setup";
  mqttUrl: string;
  devices: LoadDevice[];
  /** unconfirmed events a device may have at once */
  window: number;
  /** ms an event stays unconfirmed before it is published again */
  resendMs: number;
  /** "hub": always wait for acks messages (bare brokers); "auto": whatever each desired state says */
  confirm: "hub" | "auto";
}

export interface LoadRun {
  type: "run";
  durationMs: number;
  /** events/s over all devices; null publishes as fast as the window allows */
  rate: number | null;
  /** ms to wait after the run for everything pending to be confirmed */
  drainMs: number;
}

export interface LoadRunResult {
  confirm: Confirmation;
  /** new events published in the run */
  published: number;
  /** publishes again of the run's events (after `resendMs` without confirmation) */
  resends: number;
  /** events of the run confirmed as stored */
  confirmed: number;
  rejected: number;
  /** confirmations of events no longer pending (replays, a second hub answering) */
  extraConfirmations: number;
  /** events of the run still unconfirmed when the drain ended: kept by the device, not lost */
  unconfirmedIds: string[];
  /** ids of every event created in the run */
  ids: string[];
  /** times (ms) a device had an event due and a full window */
  windowFull: number;
  /** epoch ms of the run's first publish and of its last confirmation */
  firstPublishAt: number;
  lastConfirmAt: number;
  /** publish → confirmed, ms, of every confirmed event of the run (first publish to confirmation) */
  latencyP50: number;
  latencyP99: number;
}

export type LoadGenMessage =
  | { type: "ready"; confirm: Confirmation }
  | { type: "done"; result: LoadRunResult }
  | { type: "failed"; message: string };

interface Pending {
  id: string;
  body: string;
  /** performance.now() of the first publish, and of the latest */
  firstAt: number;
  lastAt: number;
  run: number;
}

interface RunStats {
  published: number;
  resends: number;
  confirmed: number;
  rejected: number;
  extra: number;
  windowFull: number;
  ids: string[];
  latencies: number[];
  firstPublishAt: number;
  lastConfirmAt: number;
}

const SHA = "0".repeat(64);
const send = (m: LoadGenMessage) => process.send?.(m);

class Device {
  readonly id: string;
  readonly client: MqttClient;
  nextSeq = 1;
  readonly pending = new Map<number, Pending>();
  /** due events not yet published for a full window (fixed rate) */
  issued = 0;
  eventAcks: boolean | null = null;
  #gen: LoadGen;

  constructor(gen: LoadGen, setup: LoadSetup, d: LoadDevice) {
    this.#gen = gen;
    this.id = d.id;
    this.client = mqtt.connect(setup.mqttUrl, {
      clientId: d.id,
      ...(d.secret ? { username: d.id, password: d.secret } : {}),
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 1000,
      connectTimeout: 30_000,
    });
    this.client.on("message", (topic, payload) => this.#onMessage(topic, payload));
    this.client.on("error", () => undefined);
  }

  async subscribe(): Promise<void> {
    if (!this.client.connected) await new Promise<void>((resolve) => this.client.once("connect", () => resolve()));
    await this.client.subscribeAsync([topics.desired(this.id), topics.acks(this.id)], { qos: 1 });
  }

  publishNew(run: number, stats: RunStats): void {
    const seq = this.nextSeq++;
    const id = newEventId();
    const event: Event = {
      v: 1,
      id,
      seq,
      deviceId: this.id,
      pipeline: "main",
      sourceId: "bench",
      ts: new Date().toISOString(),
      bundle: { sha256: SHA, modelVersionId: "bench" },
      frame: { width: 320, height: 240, meta: {} },
      result: { task: "classification", label: "ok", score: 0.97, scores: { ok: 0.97, defect: 0.03 }, finding: false },
      latencyMs: { preprocess: 1.2, inference: 3.4, total: 4.6 },
      media: false,
    };
    const now = performance.now();
    const p: Pending = { id, body: JSON.stringify(event), firstAt: now, lastAt: now, run };
    this.pending.set(seq, p);
    if (!stats.published) stats.firstPublishAt = Date.now();
    stats.published++;
    stats.ids.push(id);
    this.#publish(seq, p);
  }

  /** publishes again what waited `resendMs`; counts only the run's own events (`run`) */
  resendStale(now: number, resendMs: number, run: number, stats: RunStats): void {
    for (const [seq, p] of this.pending) {
      if (now - p.lastAt < resendMs) continue;
      p.lastAt = now;
      if (p.run === run) stats.resends++;
      this.#publish(seq, p);
    }
  }

  #publish(seq: number, p: Pending): void {
    this.client.publish(topics.events(this.id), p.body, { qos: 1 }, (err) => {
      if (!err && this.#gen.confirm === "puback" && this.pending.get(seq) === p) this.#gen.confirmed(this, seq, false);
    });
  }

  #onMessage(topic: string, payload: Buffer): void {
    if (topic === topics.desired(this.id)) {
      const desired = JSON.parse(payload.toString("utf8")) as { eventAcks?: string };
      this.eventAcks = desired.eventAcks === "hub";
      return;
    }
    if (topic !== topics.acks(this.id) || this.#gen.confirm !== "hub") return;
    const acks = JSON.parse(payload.toString("utf8")) as EventAcks;
    for (const seq of acks.stored) this.#gen.confirmed(this, seq, false);
    for (const r of acks.rejected) this.#gen.confirmed(this, r.seq, true);
  }
}

class LoadGen {
  confirm: Confirmation = "hub";
  devices: Device[] = [];
  #setup: LoadSetup;
  #run = 0;
  #running = false;
  #stats: RunStats = LoadGen.#emptyStats();
  #rateTimer: NodeJS.Timeout | null = null;

  constructor(setup: LoadSetup) {
    this.#setup = setup;
  }

  static #emptyStats(): RunStats {
    return {
      published: 0,
      resends: 0,
      confirmed: 0,
      rejected: 0,
      extra: 0,
      windowFull: 0,
      ids: [],
      latencies: [],
      firstPublishAt: 0,
      lastConfirmAt: 0,
    };
  }

  async connect(): Promise<Confirmation> {
    this.devices = this.#setup.devices.map((d) => new Device(this, this.#setup, d));
    await Promise.all(this.devices.map((d) => d.subscribe()));
    if (this.#setup.confirm === "hub") {
      this.confirm = "hub";
      return this.confirm;
    }
    // the retained desired state arrives with the subscription; give a busy hub a moment
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && this.devices.some((d) => d.eventAcks === null)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    this.confirm = this.devices.every((d) => d.eventAcks === true) ? "hub" : "puback";
    return this.confirm;
  }

  confirmed(device: Device, seq: number, rejected: boolean): void {
    const p = device.pending.get(seq);
    const stats = this.#stats;
    if (!p) {
      stats.extra++;
      return;
    }
    device.pending.delete(seq);
    if (p.run === this.#run) {
      if (rejected) stats.rejected++;
      else {
        stats.confirmed++;
        stats.latencies.push(performance.now() - p.firstAt);
        stats.lastConfirmAt = Date.now();
      }
    }
    if (this.#running && this.#rateTimer === null) this.#fill(device);
  }

  #fill(device: Device): void {
    while (device.pending.size < this.#setup.window) device.publishNew(this.#run, this.#stats);
  }

  async run(r: LoadRun): Promise<LoadRunResult> {
    this.#run++;
    this.#stats = LoadGen.#emptyStats();
    const stats = this.#stats;
    this.#running = true;
    const start = performance.now();
    const n = this.devices.length;
    if (r.rate === null) {
      for (const d of this.devices) this.#fill(d);
    } else {
      const perDevice = r.rate / n / 1000;
      for (const d of this.devices) d.issued = 0;
      // devices start out of phase, as real cameras do
      this.#rateTimer = setInterval(() => {
        const elapsed = performance.now() - start;
        this.devices.forEach((d, i) => {
          const due = Math.floor(elapsed * perDevice + i / n) - d.issued;
          for (let k = 0; k < due; k++) {
            if (d.pending.size >= this.#setup.window) {
              stats.windowFull++;
              break;
            }
            d.issued++;
            d.publishNew(this.#run, stats);
          }
        });
      }, 1);
    }
    const resendTimer = setInterval(() => {
      const now = performance.now();
      for (const d of this.devices) d.resendStale(now, this.#setup.resendMs, this.#run, stats);
    }, 250);
    await new Promise((resolve) => setTimeout(resolve, r.durationMs));
    this.#running = false;
    if (this.#rateTimer) clearInterval(this.#rateTimer);
    this.#rateTimer = null;
    const drainEnd = performance.now() + r.drainMs;
    while (performance.now() < drainEnd && this.devices.some((d) => d.pending.size > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    clearInterval(resendTimer);
    const unconfirmedIds: string[] = [];
    for (const d of this.devices)
      for (const p of d.pending.values()) if (p.run === this.#run) unconfirmedIds.push(p.id);
    const lat = stats.latencies.sort((a, b) => a - b);
    const pct = (q: number) =>
      lat.length ? (lat[Math.min(lat.length - 1, Math.floor((q / 100) * lat.length))] ?? 0) : 0;
    return {
      confirm: this.confirm,
      published: stats.published,
      resends: stats.resends,
      confirmed: stats.confirmed,
      rejected: stats.rejected,
      extraConfirmations: stats.extra,
      unconfirmedIds,
      ids: stats.ids,
      windowFull: stats.windowFull,
      firstPublishAt: stats.firstPublishAt,
      lastConfirmAt: stats.lastConfirmAt,
      latencyP50: pct(50),
      latencyP99: pct(99),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.client.endAsync(false).catch(() => undefined)));
  }
}

let gen: LoadGen | null = null;
process.on("message", (m: LoadSetup | LoadRun | { type: "close" }) => {
  void (async () => {
    try {
      if (m.type === "setup") {
        gen = new LoadGen(m);
        send({ type: "ready", confirm: await gen.connect() });
      } else if (m.type === "run") {
        if (!gen) throw new Error("run before setup");
        send({ type: "done", result: await gen.run(m) });
      } else if (m.type === "close") {
        await gen?.close();
        process.exit(0);
      }
    } catch (err) {
      send({ type: "failed", message: (err as Error).stack ?? String(err) });
    }
  })();
});
process.on("disconnect", () => process.exit(0));
