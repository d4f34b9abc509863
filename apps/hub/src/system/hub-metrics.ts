import type { HubStats } from "@kensa/contracts";
import { Gauge, Registry } from "prom-client";
import type { DeviceAuthCounters } from "../fleet/device-auth-throttle.js";
import { registerLimitMetrics } from "../limits/limit-refusals.js";
import { registerSmsMetrics } from "../notify/sms-metrics.js";

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
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          this.set(src.ingest()[key]);
        },
      });
    // gauges named *_total: values come whole from the ingest, prom-client counters only add
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
    ingestCounter("kensa_ingest_queue_events", "events waiting for their batch to commit", "queued");
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
    const broker = new Gauge({
      name: "kensa_broker_refused_total",
      help: "connections, publishes and subscriptions the embedded broker refused",
      labelNames: ["what"],
      registers: [r],
      collect() {
        const b = src.broker();
        if (!b) return;
        broker.set({ what: "auth" }, b.authRefused);
        broker.set({ what: "publish" }, b.publishRefused);
        broker.set({ what: "subscribe" }, b.subscribeRefused);
      },
    });
    registerLimitMetrics(r);
    registerSmsMetrics(r);
    const deviceAuth = new Gauge({
      name: "kensa_device_auth_total",
      help: "device authentications (MQTT and HTTP): stored secrets compared, failed, refused unchecked while locked out, and lockouts begun",
      labelNames: ["what"],
      registers: [r],
      collect() {
        const d = src.deviceAuth?.();
        if (!d) return;
        deviceAuth.set({ what: "checked" }, d.checked);
        deviceAuth.set({ what: "failed" }, d.failures);
        deviceAuth.set({ what: "throttled" }, d.throttled);
        deviceAuth.set({ what: "lockout_device" }, d.lockouts.device);
        deviceAuth.set({ what: "lockout_ip" }, d.lockouts.ip);
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
    const refusals = new Gauge({
      name: "kensa_audit_refusals_total",
      help: "refused HTTP calls and MQTT ACL violations: recorded in the audit log one by one, or suppressed (counted in a summary entry)",
      labelNames: ["action", "outcome"],
      registers: [r],
      collect() {
        for (const [action, c] of Object.entries(src.auditRefusals?.() ?? {})) {
          refusals.set({ action, outcome: "recorded" }, c.recorded);
          refusals.set({ action, outcome: "suppressed" }, c.suppressed);
        }
      },
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
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
