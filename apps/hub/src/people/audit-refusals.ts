import type { ActorKind } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { AuditRecord, AuditTarget } from "./audit-record.js";

/** What is refused: an HTTP call (401/403), or the embedded broker's CONNECT, PUBLISH, SUBSCRIBE. */
export type RefusalAction = "http.refused" | "mqtt.auth_failed" | "mqtt.publish_refused" | "mqtt.subscribe_refused";

export interface Refusal {
  action: RefusalAction;
  actor: string;
  actorKind: ActorKind;
  ip: string | null;
  target?: AuditTarget | null;
  details?: Record<string, unknown>;
}

/** A CONNECT, PUBLISH or SUBSCRIBE the embedded broker refused. */
export type MqttRefusal = { clientId: string; ip: string | null } & (
  | { what: "auth"; username: string | null; reason: string }
  | { what: "publish" | "subscribe"; deviceId: string | null; topic: string }
);

export interface RefusalLimits {
  /** entries recorded one by one per (who, action) and window; the rest are counted */
  perKey: number;
  /** ms of one window */
  windowMs: number;
  /** (who, action) pairs tracked per window; refusals beyond them share one pair per action */
  maxKeys: number;
  /** entries recorded one by one per window over all pairs */
  perWindow: number;
}

export const DEFAULT_REFUSAL_LIMITS: RefusalLimits = { perKey: 10, windowMs: 60_000, maxKeys: 256, perWindow: 300 };

/** Per action: refusals written one by one, and those only counted (in a summary entry). */
export type RefusalCounters = Record<RefusalAction, { recorded: number; suppressed: number }>;

interface Bucket {
  refusal: Refusal;
  windowStart: number;
  count: number;
  suppressed: number;
}

/**
 * Refused calls and MQTT ACL violations in the audit log, with a bound a flood cannot pass: per
 * (who, action) the first `perKey` in a window are recorded one by one, the rest counted and
 * written as one `audit.suppressed` entry when the window ends. "Who" is the authenticated actor
 * (a user, a device) or, for anonymous callers whose claimed name costs nothing to vary, the IP.
 * At most `maxKeys` pairs are tracked (beyond them one pair per action, actor "*") and at most
 * `perWindow` entries are written one by one per window, so a window writes at most
 * `perWindow + maxKeys + 4` entries however many sources flood. Offering never waits for the
 * database and never throws: a failed write is counted and logged.
 */
export class AuditRefusals {
  readonly counters: RefusalCounters = {
    "http.refused": { recorded: 0, suppressed: 0 },
    "mqtt.auth_failed": { recorded: 0, suppressed: 0 },
    "mqtt.publish_refused": { recorded: 0, suppressed: 0 },
    "mqtt.subscribe_refused": { recorded: 0, suppressed: 0 },
  };
  /** entries that could not be written (the database failed) */
  failed = 0;
  #record: (r: AuditRecord) => Promise<unknown>;
  #limits: RefusalLimits;
  #buckets = new Map<string, Bucket>();
  #windowStart = 0;
  #windowRecorded = 0;
  #pending = new Set<Promise<unknown>>();
  #timer: NodeJS.Timeout | null = null;
  #log: Logger | null = null;
  #now: () => number;

  constructor(
    record: (r: AuditRecord) => Promise<unknown>,
    limits: Partial<RefusalLimits> = {},
    now: () => number = Date.now,
  ) {
    this.#record = record;
    this.#limits = { ...DEFAULT_REFUSAL_LIMITS, ...limits };
    this.#now = now;
  }

  /** Writes the summaries of ended windows every window; `log` hears failed writes. */
  start(log: Logger): void {
    this.#log = log;
    if (this.#timer) return;
    this.#timer = setInterval(() => this.flush(false), this.#limits.windowMs);
    this.#timer.unref();
  }

  /** Stops the timer and writes every summary still open, then waits for every write. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.flush(true);
    await this.idle();
  }

  /** Resolves once every entry offered so far is written (or failed). */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  /**
   * A broker refusal: a failed authentication names the username tried but is anonymous (the
   * name costs nothing to vary, so the limit keys on the address); a refused publish or
   * subscribe names the authenticated device and the topic. Bound, for use as a callback.
   */
  readonly mqtt = (r: MqttRefusal): void => {
    const clip = (s: string) => s.slice(0, 256);
    if (r.what === "auth") {
      this.offer({
        action: "mqtt.auth_failed",
        actor: clip(r.username ?? ""),
        actorKind: "anonymous",
        ip: r.ip,
        details: { clientId: clip(r.clientId), reason: clip(r.reason) },
      });
      return;
    }
    this.offer({
      action: r.what === "publish" ? "mqtt.publish_refused" : "mqtt.subscribe_refused",
      actor: clip(r.deviceId ?? r.clientId),
      actorKind: r.deviceId ? "device" : "anonymous",
      ip: r.ip,
      target: { type: "topic", id: clip(r.topic) },
      details: { clientId: clip(r.clientId) },
    });
  };

  offer(r: Refusal): void {
    const now = this.#now();
    const { perKey, windowMs, maxKeys, perWindow } = this.#limits;
    if (now - this.#windowStart >= windowMs) {
      this.#windowStart = now;
      this.#windowRecorded = 0;
    }
    const who = r.actorKind === "anonymous" ? `ip:${r.ip ?? "?"}` : `${r.actorKind}:${r.actor}`;
    let key = `${r.action}\u0000${who}`;
    let bucket = this.#buckets.get(key);
    if (bucket && now - bucket.windowStart >= windowMs) {
      this.#summarize(bucket, now);
      this.#buckets.delete(key);
      bucket = undefined;
    }
    if (!bucket && this.#buckets.size >= maxKeys) {
      key = `${r.action}\u0000*`;
      bucket = this.#buckets.get(key);
      if (!bucket) r = { ...r, actor: "*", actorKind: "anonymous", ip: null, target: null, details: {} };
    }
    if (!bucket) {
      bucket = { refusal: r, windowStart: now, count: 0, suppressed: 0 };
      this.#buckets.set(key, bucket);
    }
    bucket.count++;
    const c = this.counters[r.action];
    if (bucket.count <= perKey && this.#windowRecorded < perWindow) {
      this.#windowRecorded++;
      c.recorded++;
      this.#write(r);
    } else {
      bucket.suppressed++;
      c.suppressed++;
    }
  }

  /** Writes the summaries of windows that ended (all of them with `all`) and forgets those pairs. */
  flush(all: boolean): void {
    const now = this.#now();
    for (const [key, b] of this.#buckets) {
      if (!all && now - b.windowStart < this.#limits.windowMs) continue;
      this.#summarize(b, now);
      this.#buckets.delete(key);
    }
  }

  #summarize(b: Bucket, now: number): void {
    if (b.suppressed === 0) return;
    const r = b.refusal;
    // the pair is (who, action): routes, topics and, for anonymous callers, the names they
    // claimed vary within it, so the summary names only who (the address, for anonymous ones)
    this.#write({
      actor: r.actorKind === "anonymous" && r.actor !== "*" ? "anonymous" : r.actor,
      actorKind: r.actorKind,
      action: "audit.suppressed",
      target: null,
      ip: r.ip,
      details: {
        action: r.action,
        count: b.suppressed,
        from: new Date(b.windowStart).toISOString(),
        to: new Date(Math.min(now, b.windowStart + this.#limits.windowMs)).toISOString(),
      },
    });
  }

  #write(r: AuditRecord): void {
    const p = this.#record(r).then(
      () => undefined,
      (err: unknown) => {
        this.failed++;
        this.#log?.error({ err, action: r.action }, "audit entry of a refusal could not be written");
      },
    );
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }
}
