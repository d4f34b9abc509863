import type { Registry } from "prom-client";
import { readCounter } from "../metrics-counter.js";
import type { TelemetryHistory } from "./telemetry-history.js";

/** The telemetry history's counters on the hub's metrics registry, read at scrape time. */
export function registerTelemetryMetrics(registry: Registry, history: TelemetryHistory): void {
  const c = history.counters;
  readCounter({
    name: "kensa_telemetry_messages_total",
    help: "telemetry messages merged into the history (recorded) or not kept because too many points waited (dropped)",
    labelNames: ["outcome"],
    registers: [registry],
    read: () => [
      [{ outcome: "recorded" }, c.recorded],
      [{ outcome: "dropped" }, c.dropped],
    ],
  });
  readCounter({
    name: "kensa_telemetry_points_written_total",
    help: "one-minute telemetry points this hub process wrote (upserted)",
    registers: [registry],
    read: () => c.written,
  });
  readCounter({
    name: "kensa_telemetry_flush_failures_total",
    help: "writes of telemetry points that failed (their points wait for the next)",
    registers: [registry],
    read: () => c.failedFlushes,
  });
  readCounter({
    name: "kensa_telemetry_points_pruned_total",
    help: "telemetry points this hub process deleted past telemetry.windowDays",
    registers: [registry],
    read: () => c.pruned,
  });
}
