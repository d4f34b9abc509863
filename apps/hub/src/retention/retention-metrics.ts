import type { Registry } from "prom-client";
import { readCounter } from "../metrics-counter.js";
import type { RetentionJob } from "./retention-job.js";

/**
 * Retention's counters on the hub's metrics registry, read from the job at scrape time: what
 * this process's runs deleted by kind, what they kept by reason, and the bytes they freed.
 */
export function registerRetentionMetrics(registry: Registry, job: RetentionJob): void {
  readCounter({
    name: "kensa_retention_runs_total",
    help: "retention runs this hub process completed",
    registers: [registry],
    read: () => job.runs,
  });
  readCounter({
    name: "kensa_retention_deleted_total",
    help: "items retention deleted, by kind (events, frames, deviceFrames, clips, captures, blobs)",
    labelNames: ["kind"],
    registers: [registry],
    read: () => Object.entries(job.totals.deleted).map(([kind, n]) => [{ kind }, n] as const),
  });
  readCounter({
    name: "kensa_retention_kept_total",
    help: "items past their limit that retention kept, by reason",
    labelNames: ["reason"],
    registers: [registry],
    read: () => Object.entries(job.totals.kept).map(([reason, n]) => [{ reason }, n] as const),
  });
  readCounter({
    name: "kensa_retention_bytes_freed_total",
    help: "bytes of blobs retention removed from the blob store",
    registers: [registry],
    read: () => job.totals.bytesFreed,
  });
}
