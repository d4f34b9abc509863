import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { type HealthProblem, KensaError } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { DevicePrincipal } from "../http/request-auth.js";
import type { DeviceAuthCounters, DeviceAuthThrottle } from "./device-auth-throttle.js";

export type { DevicePrincipal };

const KEY_LEN = 32;
/** scrypt cost of secrets hashed before the fast scheme (~35 ms a check); such rows are upgraded on their next success */
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
/**
 * The stored form of a secret hashed with the fast scheme. A device secret is 256 random bits:
 * no dictionary reaches it, so a salted SHA-256 is as strong as a slow KDF against a stolen
 * database, and a reconnect storm of 1,000 devices costs milliseconds rather than CPU-seconds.
 * (People's passwords keep scrypt: they are guessable.)
 */
const FAST = "sha256$";
const CACHE_MAX = 10_000;
/** ms a failed (id, secret) pair is remembered, so a reconnect storm with a wrong secret costs one hash */
const FAIL_TTL_MS = 30_000;
/**
 * ms an accepted (id, secret) pair is trusted without reading the database. Rotations and
 * revocations through the hub forget it at once, on every replica (forget(), over the bus);
 * this bound is for a change the hub did not make itself (a restored backup, a row edited by
 * hand, a replica that missed a bus message), which is then honoured within a minute.
 */
const OK_TTL_MS = 60_000;

/** Generates, hashes and verifies device secrets; secrets themselves are never stored. */
export class DeviceAuth {
  #db: Kysely<HubDatabase>;
  /** slows guessing; null: no throttle (tests of the hashing alone) */
  readonly throttle: DeviceAuthThrottle | null;
  /** stored hashes compared so far (each is a SHA-256, or a scrypt for a secret from before the fast scheme) */
  hashChecks = 0;
  /** accepted (id, secret) pairs → the principal and when it was checked (ms) */
  #ok = new Map<string, { principal: DevicePrincipal; at: number }>();
  #failed = new Map<string, number>();
  /** `${deviceId}\0${serial}` of client certificates accepted (recorded, not revoked, device active) */
  #certs = new Map<string, true>();
  /**
   * device id → generation, bumped by forget(): a check that began before a rotation or a
   * revocation must neither succeed nor fill the cache with what it read before the change
   */
  #generation = new Map<string, number>();

  constructor(db: Kysely<HubDatabase>, throttle: DeviceAuthThrottle | null = null) {
    this.#db = db;
    this.throttle = throttle;
  }

  /** what /metrics reports: secrets compared, failures, lockouts; null without a throttle */
  get counters(): DeviceAuthCounters | null {
    return this.throttle ? { ...this.throttle.counters, checked: this.hashChecks } : null;
  }

  /** The throttle's /health entries while a device id or an address is locked out. */
  problems(): HealthProblem[] {
    return this.throttle?.problems() ?? [];
  }

  /** 32 random bytes, base64url: what the device presents as its password */
  static newSecret(): string {
    return randomBytes(32).toString("base64url");
  }

  static async hash(secret: string): Promise<{ hash: string; salt: string }> {
    const salt = randomBytes(16);
    return { hash: FAST + fastKey(secret, salt).toString("base64"), salt: salt.toString("base64") };
  }

  /**
   * Drops what is cached for the device and fails checks still in flight; called after its
   * secret changed or it was revoked, before its live sessions are ended.
   */
  forget(deviceId: string): void {
    this.#generation.set(deviceId, (this.#generation.get(deviceId) ?? 0) + 1);
    const prefix = `${deviceId}\0`;
    for (const map of [this.#ok, this.#failed, this.#certs]) {
      for (const key of map.keys()) if (key.startsWith(prefix)) map.delete(key);
    }
  }

  /**
   * The device when `secret` is its secret and it is not revoked, else null. `from` is the
   * source address: while the device id or the address is locked out after repeated failures,
   * throws KENSA_ERR_DEVICE_AUTH_THROTTLED before anything is looked up or hashed. A secret this
   * hub already saw succeed passes even then, so guessing a device's id cannot lock out the
   * device itself.
   */
  async verify(deviceId: string, secret: string, from = "unknown"): Promise<DevicePrincipal | null> {
    const generation = this.#generation.get(deviceId) ?? 0;
    const key = `${deviceId}\0${createHash("sha256").update(secret).digest("hex")}`;
    const hit = this.#ok.get(key);
    if (hit && Date.now() - hit.at < OK_TTL_MS) return hit.principal;
    // a pair that succeeded before is checked again past its TTL, never throttled
    const wait = hit ? null : await this.throttle?.retryAfterMs(deviceId, from);
    if (wait) {
      const seconds = Math.ceil(wait.ms / 1000);
      throw new KensaError(
        "KENSA_ERR_DEVICE_AUTH_THROTTLED",
        `too many failed authentications ${wait.scope === "device" ? "for this device" : "from this address"}; try again in ${seconds} s`,
        { retryAfterSec: seconds, scope: wait.scope },
      );
    }
    const failedAt = this.#failed.get(key);
    if (failedAt !== undefined && Date.now() - failedAt < FAIL_TTL_MS) {
      await this.throttle?.failed(deviceId, from, key);
      return null;
    }

    const row = await this.#db
      .selectFrom("devices")
      .select(["id", "project_id", "secret_hash", "secret_salt", "revoked_at", "retired_at"])
      .where("id", "=", deviceId)
      .executeTakeFirst();
    let ok = false;
    // a retired device is revoked too; both are checked so no half-applied change lets it in
    if (row && row.revoked_at === null && !row.retired_at) {
      const salt = Buffer.from(row.secret_salt, "base64");
      const fast = row.secret_hash.startsWith(FAST);
      const want = Buffer.from(fast ? row.secret_hash.slice(FAST.length) : row.secret_hash, "base64");
      this.hashChecks++;
      const got = fast ? fastKey(secret, salt) : await scryptAsync(secret, salt);
      ok = got.length === want.length && timingSafeEqual(got, want);
      // a secret hashed with scrypt before: store the fast form, so its next check is cheap
      if (ok && !fast) {
        const upgraded = await DeviceAuth.hash(secret);
        await this.#db
          .updateTable("devices")
          .set({ secret_hash: upgraded.hash, secret_salt: upgraded.salt })
          .where("id", "=", row.id)
          .where("secret_hash", "=", row.secret_hash)
          .execute();
      }
    }
    if ((this.#generation.get(deviceId) ?? 0) !== generation) return null;
    if (!ok || !row) {
      this.#ok.delete(key);
      remember(this.#failed, key, Date.now());
      await this.throttle?.failed(deviceId, from, key);
      return null;
    }
    this.throttle?.succeeded(deviceId);
    const principal = { deviceId: row.id, projectId: row.project_id };
    remember(this.#ok, key, { principal, at: Date.now() });
    this.#failed.delete(key);
    return principal;
  }

  /**
   * true when the client certificate with `serial` (normalized hex) is recorded for `deviceId`,
   * not revoked, and the device is enrolled and not revoked. Acceptances are cached until
   * forget(): a revocation (of the certificate, the device, or a rotation) forgets the device.
   */
  async verifyCertificate(deviceId: string, serial: string): Promise<boolean> {
    const key = `${deviceId}\0${serial}`;
    if (this.#certs.has(key)) return true;
    const generation = this.#generation.get(deviceId) ?? 0;
    const row = await this.#db
      .selectFrom("device_certificates as c")
      .innerJoin("devices as d", "d.id", "c.device_id")
      .select(["c.serial"])
      .where("c.serial", "=", serial)
      .where("c.device_id", "=", deviceId)
      .where("c.revoked_at", "is", null)
      .where("d.revoked_at", "is", null)
      .where("d.retired_at", "is", null)
      .executeTakeFirst();
    if (!row || (this.#generation.get(deviceId) ?? 0) !== generation) return false;
    remember(this.#certs, key, true);
    return true;
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  // Maps iterate in insertion order, so dropping the first key evicts the oldest entry.
  if (map.size >= CACHE_MAX) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}

function fastKey(secret: string, salt: Buffer): Buffer {
  return createHash("sha256").update(salt).update(secret).digest();
}

function scryptAsync(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LEN, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
