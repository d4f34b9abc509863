import { type ErrorCode, KensaError } from "@kensa/contracts";
import type { Registry } from "prom-client";
import { readCounter } from "../metrics-counter.js";

/** What was refused, as the `limit` label of `kensa_limit_refusals_total`. */
export type LimitName =
  | "mqtt_packet"
  | "event_bytes"
  | "event_field"
  | "http_body"
  | "image_pixels"
  | "archive_bytes"
  | "archive_entries"
  | "archive_unpacked_bytes"
  | "archive_entry_bytes"
  | "archive_entry_ratio";

/**
 * Refusals by limit since this process started. Process-wide on purpose: what the limits
 * protect (memory, the event loop, the disk) belongs to the process, whichever hub in it
 * refused.
 */
const counts = new Map<LimitName, number>();

/** Counts one refusal. */
export function countRefusal(limit: LimitName): void {
  counts.set(limit, (counts.get(limit) ?? 0) + 1);
}

/** Counts one refusal and returns the coded error to throw. */
export function refusal(limit: LimitName, code: ErrorCode, message: string, details?: unknown): KensaError {
  countRefusal(limit);
  return new KensaError(code, message, details);
}

/** refusals by limit since the process started */
export function refusalCounts(): Readonly<Record<string, number>> {
  return Object.fromEntries(counts);
}

/** Adds `kensa_limit_refusals_total{limit}` to a metrics registry, read at each scrape. */
export function registerLimitMetrics(registry: Registry): void {
  readCounter({
    name: "kensa_limit_refusals_total",
    help: "inputs refused for exceeding a configured limit (limits.* in the hub config), by limit",
    labelNames: ["limit"],
    registers: [registry],
    read: () => [...counts].map(([limit, n]) => [{ limit }, n] as const),
  });
}
