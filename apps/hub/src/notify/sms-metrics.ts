import type { Registry } from "prom-client";
import { readCounter } from "../metrics-counter.js";

/** What happened to SMS, as the `outcome` label of `kensa_sms_total`. */
export type SmsOutcome =
  | "sent"
  | "retried"
  | "rejected"
  | "unavailable"
  | "rate_limited"
  | "deferred"
  | "quiet_suppressed";

/**
 * SMS outcomes since this process started. Process-wide like the limit refusals: the gateway
 * and the recipients' phones are shared by whatever hub in the process sent.
 */
const counts = new Map<SmsOutcome, number>();

/** Counts one SMS outcome. */
export function countSms(outcome: SmsOutcome): void {
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
}

/** SMS outcomes since the process started */
export function smsCounts(): Readonly<Record<string, number>> {
  return Object.fromEntries(counts);
}

/** Adds `kensa_sms_total{outcome}` to a metrics registry, read at each scrape. */
export function registerSmsMetrics(registry: Registry): void {
  readCounter({
    name: "kensa_sms_total",
    help: "SMS notifications by outcome: sent, retried (gateway 5xx, 408/429 or timeout), rejected (4xx, not retried), unavailable (retries used up), rate_limited, deferred or quiet_suppressed (quiet hours)",
    labelNames: ["outcome"],
    registers: [registry],
    read: () => [...counts].map(([outcome, n]) => [{ outcome }, n] as const),
  });
}
