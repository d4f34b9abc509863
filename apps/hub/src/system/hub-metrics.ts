import type { HubStats } from "@kensa/contracts";
import type { Kysely } from "kysely";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { HubDatabase } from "../db/schema.js";
import type { WalCheckpointState } from "../db/wal-checkpointer.js";
import type { DeviceAuthCounters } from "../fleet/device-auth-throttle.js";
import { registerLimitMetrics } from "../limits/limit-refusals.js";
import { readCounter } from "../metrics-counter.js";
import { registerSmsMetrics } from "../notify/sms-metrics.js";
import { registerDriftMetrics } from "./drift-metrics.js";
import { registerFieldMetrics } from "./field-metrics.js";

/** What the hub's metrics read at each scrape. */
export interface HubMetricsSources {
  ingest(): HubStats["ingest"];
  /** 1 while ingest cannot store (the reason is in /health) */
  storageFailing(): boolean;
  mqttConnected(): boolean;
  broker(): { authRefused: number; publishRefused: number; subscribeRefused: number } | null;
  /** per device: events its sequence says were sent and the hub does not hold */
  missingEvents(): Promise<Array<{ deviceId: string; missing: number }>>;
  /** per refusal action: entries the audit log recorded one by one, and refusals only counted */
  auditRefusals?(): Record<string, { recorded: number; suppressed: number }>;
  /** failed device authentications and their throttle (fleet/device-auth-throttle.ts) */
  deviceAuth?(): DeviceAuthCounters | null;
  /** SQLite on disk: its write-ahead log's checkpoints (db/wal-checkpointer.ts); null otherwise */
  sqliteWal?(): WalCheckpointState | null;
  /** the database field figures, jobs and devices are counted in (none: those metrics are left out) */
  db?: Kysely<HubDatabase>;
}

/**
 * The hub's Prometheus metrics on their own registry. Everything is read from its source at
 * scrape time (counters the ingest keeps, gaps the devices table holds), so the figures cannot
 * drift from the stats route. The counters are process-lifetime values: Prometheus's `rate()`
 * handles the reset when the hub restarts.
 */
export class HubMetrics {
  readonly registry = new Registry();

  constructor(src: HubMetricsSources) {
    const r = this.registry;
    const ingestCounter = (name: string, help: string, key: keyof HubStats["ingest"]) =>
      readCounter({ name, help, registers: [r], read: () => src.ingest()[key] });
    ingestCounter("kensa_ingest_received_total", "MQTT messages received from devices", "received");
    ingestCounter("kensa_ingest_events_stored_total", "events committed (replays not counted)", "stored");
    ingestCounter("kensa_ingest_events_duplicate_total", "events received again after they were stored", "duplicates");
    ingestCounter("kensa_ingest_invalid_total", "payloads that did not match their schema", "invalid");
    ingestCounter("kensa_ingest_unknown_device_total", "messages from devices the hub does not know", "unknownDevice");
    ingestCounter("kensa_ingest_events_rejected_total", "events refused for good and kept as rejected", "rejected");
    ingestCounter(
      "kensa_ingest_events_store_failed_total",
      "events the database failed to store (left on the devices)",
      "storeFailed",
    );
    ingestCounter("kensa_ingest_events_shed_total", "events turned away while the ingest queue was full", "shed");
    new Gauge({
      name: "kensa_ingest_queue_events",
      help: "events waiting for their batch to commit",
      registers: [r],
      collect() {
        this.set(src.ingest().queued);
      },
    });
    new Gauge({
      name: "kensa_ingest_storage_failing",
      help: "1 while the database fails to store events",
      registers: [r],
      collect() {
        this.set(src.storageFailing() ? 1 : 0);
      },
    });
    new Gauge({
      name: "kensa_mqtt_connected",
      help: "1 while the hub is connected to its MQTT broker",
      registers: [r],
      collect() {
        this.set(src.mqttConnected() ? 1 : 0);
      },
    });
    readCounter({
      name: "kensa_broker_refused_total",
      help: "connections, publishes and subscriptions the embedded broker refused",
      labelNames: ["what"],
      registers: [r],
      read: () => {
        const b = src.broker();
        if (!b) return [];
        return [
          [{ what: "auth" }, b.authRefused],
          [{ what: "publish" }, b.publishRefused],
          [{ what: "subscribe" }, b.subscribeRefused],
        ] as const;
      },
    });
    new Gauge({
      name: "kensa_sqlite_wal_uncheckpointed_frames",
      help: "SQLite pages in the write-ahead log not yet copied to the database file, at the last checkpoint",
      registers: [r],
      collect() {
        const w = src.sqliteWal?.();
        if (w) this.set(Math.max(0, w.logFrames - w.checkpointedFrames));
      },
    });
    readCounter({
      name: "kensa_sqlite_wal_checkpoint_errors_total",
      help: "SQLite checkpoints that failed (the hub's own connection then checkpoints past 64 MiB of log)",
      registers: [r],
      read: () => src.sqliteWal?.()?.errors ?? 0,
    });
    registerLimitMetrics(r);
    registerSmsMetrics(r);
    readCounter({
      name: "kensa_device_auth_total",
      help: "device authentications (MQTT and HTTP): stored secrets compared, failed, refused unchecked while locked out, and lockouts begun",
      labelNames: ["what"],
      registers: [r],
      read: () => {
        const d = src.deviceAuth?.();
        if (!d) return [];
        return [
          [{ what: "checked" }, d.checked],
          [{ what: "failed" }, d.failures],
          [{ what: "throttled" }, d.throttled],
          [{ what: "lockout_device" }, d.lockouts.device],
          [{ what: "lockout_ip" }, d.lockouts.ip],
        ] as const;
      },
    });
    const locked = new Gauge({
      name: "kensa_device_auth_locked",
      help: "device ids and source addresses locked out of device authentication now",
      labelNames: ["scope"],
      registers: [r],
      collect() {
        const d = src.deviceAuth?.();
        if (!d) return;
        locked.set({ scope: "device" }, d.locked.device);
        locked.set({ scope: "ip" }, d.locked.ip);
      },
    });
    readCounter({
      name: "kensa_audit_refusals_total",
      help: "refused HTTP calls and MQTT ACL violations: recorded in the audit log one by one, or suppressed (counted in a summary entry)",
      labelNames: ["action", "outcome"],
      registers: [r],
      read: () =>
        Object.entries(src.auditRefusals?.() ?? {}).flatMap(([action, c]) => [
          [{ action, outcome: "recorded" }, c.recorded] as const,
          [{ action, outcome: "suppressed" }, c.suppressed] as const,
        ]),
    });
    const missing = new Gauge({
      name: "kensa_device_events_missing",
      help: "events a device's sequence says were sent and the hub does not hold (devices with a gap only)",
      labelNames: ["device"],
      registers: [r],
      async collect() {
        missing.reset();
        for (const d of await src.missingEvents()) if (d.missing > 0) missing.set({ device: d.deviceId }, d.missing);
      },
    });
    if (src.db) registerFieldMetrics(r, src.db);
    if (src.db) registerDriftMetrics(r, src.db);
    // process CPU, memory, event-loop lag and GC, under their standard names
    collectDefaultMetrics({ register: r });
    // prom-client names these gauges *_total, which Prometheus's linter refuses (a _total is a counter)
    for (const name of [
      "nodejs_active_handles_total",
      "nodejs_active_requests_total",
      "nodejs_active_resources_total",
    ]) {
      r.removeSingleMetric(name);
    }
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
