import type { HealthProblem } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { DeviceThrottleConfig } from "../config/device-throttle-config.js";
import type { HubDatabase } from "../db/schema.js";
import type { Logger } from "../logger.js";

export type ThrottleScope = "device" | "ip";

/** Process-lifetime figures for /metrics. */
export interface DeviceAuthCounters {
  /** stored secret hashes compared (what a lockout spares) */
  checked: number;
  /** device authentications refused for a wrong id or secret */
  failures: number;
  /** attempts refused because the device id or the address was locked out (nothing hashed) */
  throttled: number;
  /** lockouts begun by this hub, by scope */
  lockouts: Record<ThrottleScope, number>;
  /** device ids and addresses locked out now (as this hub knows) */
  locked: Record<ThrottleScope, number>;
}

interface KeyState {
  scope: ThrottleScope;
  /** the id or address */
  name: string;
  /** distinct wrong (device, secret) pairs → ms of their last failure */
  failures: Map<string, number>;
  /** ms */
  lockedUntil: number;
  lockedSince: number;
  /** lockouts so far, which doubles the next one; forgotten after a quiet maxLockMs */
  lockouts: number;
}

/** ms between reads of the lockouts other replicas wrote */
const SHARED_REFRESH_MS = 1000;
/** tracked ids and addresses at most; a spray of made-up ids cannot grow memory past it */
const MAX_KEYS = 50_000;
/** ms between warnings about lockouts (the rest are counted and summed up in the next one) */
const WARN_EVERY_MS = 10_000;

/**
 * Slows guessing of device secrets, per device id and per source address, on MQTT CONNECT and
 * on device HTTP calls alike. A failure is a distinct wrong secret: a device retrying with the
 * same stale secret counts once per window, so a misconfigured device cannot lock out the other
 * devices behind its address, while every new guess counts. Past the limit the id or address
 * is locked out for `lockMs`, doubled at each repeated lockout up to `maxLockMs`; while locked,
 * `retryAfterMs` refuses before the secret is looked up or hashed.
 *
 * State is in memory (the check is a map lookup); lockouts are also written to the metadata
 * store and read back by every replica at most once a second, so a device or address locked
 * out on one replica is refused by all. Failures below the limit are counted per replica.
 */
export class DeviceAuthThrottle {
  #counts = { failures: 0, throttled: 0, lockouts: { device: 0, ip: 0 } };
  #db: Kysely<HubDatabase>;
  #cfg: DeviceThrottleConfig;
  #log: Logger;
  #now: () => number;
  #keys = new Map<string, KeyState>();
  /** lockouts the store holds (any replica's): key → [lockedUntil, lockouts, lockedSince] */
  #shared = new Map<string, [number, number, number]>();
  #sharedAt = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | null = null;
  #lastWarn = Number.NEGATIVE_INFINITY;
  #unwarned = 0;
  #sweepAt = 0;

  constructor(deps: { db: Kysely<HubDatabase>; config: DeviceThrottleConfig; log: Logger; now?: () => number }) {
    this.#db = deps.db;
    this.#cfg = deps.config;
    this.#log = deps.log;
    this.#now = deps.now ?? Date.now;
  }

  /** ms until `deviceId` from `ip` may try again, and which lockout holds it; null when it may try now */
  async retryAfterMs(deviceId: string, ip: string): Promise<{ ms: number; scope: ThrottleScope } | null> {
    if (this.#off) return null;
    const now = this.#now();
    if (now - this.#sharedAt >= SHARED_REFRESH_MS) await this.#refreshShared(now);
    let worst: { ms: number; scope: ThrottleScope } | null = null;
    for (const [scope, key] of [
      ["device", deviceKey(deviceId)],
      ["ip", ipKey(ip)],
    ] as const) {
      const until = Math.max(this.#keys.get(key)?.lockedUntil ?? 0, this.#shared.get(key)?.[0] ?? 0);
      if (until > now && (!worst || until - now > worst.ms)) worst = { ms: until - now, scope };
    }
    if (worst) this.#counts.throttled++;
    return worst;
  }

  /** Records a wrong secret; `guess` identifies it (a hash of device id and secret), so repeats count once. */
  async failed(deviceId: string, ip: string, guess: string): Promise<void> {
    this.#counts.failures++;
    if (this.#off) return;
    const now = this.#now();
    this.#sweep(now);
    await this.#count("device", deviceId, guess, now, this.#cfg.maxFailures);
    await this.#count("ip", ip, guess, now, this.#cfg.ipMaxFailures);
  }

  /** The device proved its secret: its own failures are forgotten (its address's are not). */
  succeeded(deviceId: string): void {
    const st = this.#keys.get(deviceKey(deviceId));
    if (st && st.lockedUntil <= this.#now()) this.#keys.delete(deviceKey(deviceId));
  }

  get counters(): Omit<DeviceAuthCounters, "checked"> {
    const locked = this.#lockedNow(this.#now());
    return {
      ...this.#counts,
      lockouts: { ...this.#counts.lockouts },
      locked: { device: locked.device.length, ip: locked.ip.length },
    };
  }

  /** One entry per scope while anything of it is locked out, for /health. */
  problems(): HealthProblem[] {
    const locked = this.#lockedNow(this.#now());
    const out: HealthProblem[] = [];
    for (const scope of ["device", "ip"] as const) {
      const list = locked[scope];
      if (list.length === 0) continue;
      const names = list
        .slice(0, 5)
        .map((l) => `${l.name} (until ${new Date(l.until).toISOString()})`)
        .join(", ");
      const more = list.length > 5 ? ` and ${list.length - 5} more` : "";
      out.push({
        code: "KENSA_ERR_DEVICE_AUTH_THROTTLED",
        message: `${list.length} ${scope === "device" ? "device id(s)" : "source address(es)"} locked out after repeated failed device authentications: ${names}${more}`,
        since: new Date(Math.min(...list.map((l) => l.since))).toISOString(),
      });
    }
    return out;
  }

  #lockedNow(now: number): Record<ThrottleScope, Array<{ name: string; since: number; until: number }>> {
    const locked: Record<ThrottleScope, Array<{ name: string; since: number; until: number }>> = { device: [], ip: [] };
    const seen = new Set<string>();
    for (const [key, st] of this.#keys) {
      if (st.lockedUntil <= now) continue;
      seen.add(key);
      locked[st.scope].push({ name: st.name, since: st.lockedSince, until: st.lockedUntil });
    }
    for (const [key, [until, , since]] of this.#shared) {
      if (until <= now || seen.has(key)) continue;
      const [scope, name] = parseKey(key);
      locked[scope].push({ name, since, until });
    }
    return locked;
  }

  get #off(): boolean {
    return this.#cfg.maxFailures === 0 && this.#cfg.ipMaxFailures === 0;
  }

  async #count(scope: ThrottleScope, name: string, guess: string, now: number, max: number): Promise<void> {
    if (max === 0) return;
    const key = scope === "device" ? deviceKey(name) : ipKey(name);
    let st = this.#keys.get(key);
    if (!st) {
      if (this.#keys.size >= MAX_KEYS) {
        const oldest = this.#keys.keys().next();
        if (!oldest.done) this.#keys.delete(oldest.value);
      }
      st = { scope, name, failures: new Map(), lockedUntil: 0, lockedSince: 0, lockouts: 0 };
      this.#keys.set(key, st);
    }
    // a lockout long past no longer doubles the next one
    if (st.lockouts > 0 && now - st.lockedUntil > this.#cfg.maxLockMs) st.lockouts = 0;
    for (const [g, at] of st.failures) if (now - at > this.#cfg.windowMs) st.failures.delete(g);
    st.failures.set(guess, now);
    if (st.failures.size < max) return;
    const lockouts = Math.max(st.lockouts, this.#shared.get(key)?.[1] ?? 0) + 1;
    const ms = Math.min(this.#cfg.lockMs * 2 ** Math.min(lockouts - 1, 30), this.#cfg.maxLockMs);
    st.failures.clear();
    st.lockouts = lockouts;
    st.lockedSince = now;
    st.lockedUntil = now + ms;
    this.#counts.lockouts[scope]++;
    this.#warn(scope, name, max, ms, lockouts, now);
    const row = {
      key,
      locked_until: new Date(st.lockedUntil).toISOString(),
      lockouts,
      updated_at: new Date(now).toISOString(),
    };
    try {
      await this.#db
        .insertInto("auth_lockouts")
        .values(row)
        .onConflict((oc) =>
          oc.column("key").doUpdateSet({ locked_until: row.locked_until, lockouts, updated_at: row.updated_at }),
        )
        .execute();
    } catch (err) {
      // the lockout holds on this replica regardless; the others miss it until the store answers
      this.#log.error({ err: (err as Error).message, key }, "device authentication lockout could not be shared");
    }
  }

  #warn(scope: ThrottleScope, name: string, max: number, ms: number, lockouts: number, now: number): void {
    if (now - this.#lastWarn < WARN_EVERY_MS) {
      this.#unwarned++;
      return;
    }
    this.#log.warn(
      {
        code: "KENSA_ERR_DEVICE_AUTH_THROTTLED",
        [scope === "device" ? "deviceId" : "ip"]: name,
        failures: max,
        lockedForMs: ms,
        lockouts,
        ...(this.#unwarned > 0 ? { otherLockoutsSinceLastWarning: this.#unwarned } : {}),
      },
      `device authentication: ${scope === "device" ? "device id" : "source address"} locked out after repeated failures`,
    );
    this.#lastWarn = now;
    this.#unwarned = 0;
  }

  #refreshShared(now: number): Promise<void> {
    this.#refreshing ??= this.#db
      .selectFrom("auth_lockouts")
      .select(["key", "locked_until", "lockouts", "updated_at"])
      .where("locked_until", ">", new Date(now).toISOString())
      .execute()
      .then(
        (rows) => {
          this.#shared = new Map(
            rows.map((r) => [r.key, [Date.parse(r.locked_until), Number(r.lockouts), Date.parse(r.updated_at)]]),
          );
          this.#sharedAt = now;
        },
        (err: Error) => {
          // keep what was known; try again at the next check after the interval
          this.#sharedAt = now;
          this.#log.warn({ err: err.message }, "device authentication lockouts could not be read");
        },
      )
      .finally(() => {
        this.#refreshing = null;
      });
    return this.#refreshing;
  }

  /** Drops ids and addresses with nothing recent to remember (at most once a window). */
  #sweep(now: number): void {
    if (now - this.#sweepAt < this.#cfg.windowMs) return;
    this.#sweepAt = now;
    for (const [key, st] of this.#keys) {
      const recent = [...st.failures.values()].some((at) => now - at <= this.#cfg.windowMs);
      if (!recent && st.lockedUntil + this.#cfg.maxLockMs < now) this.#keys.delete(key);
    }
  }
}

function deviceKey(id: string): string {
  return `device:${id}`;
}

function ipKey(ip: string): string {
  return `ip:${normalizeAddress(ip)}`;
}

function parseKey(key: string): [ThrottleScope, string] {
  return key.startsWith("device:") ? ["device", key.slice(7)] : ["ip", key.slice(3)];
}

/** One address however the listener reports it (IPv4 clients of a dual-stack socket arrive as ::ffff:a.b.c.d). */
function normalizeAddress(address: string): string {
  if (!address) return "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
