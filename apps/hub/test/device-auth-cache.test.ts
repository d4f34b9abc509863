import { fleetRoutes, projectRoutes } from "@kensa/contracts";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DeviceAuth } from "../src/fleet/device-auth.js";
import { DeviceAuthThrottle } from "../src/fleet/device-auth-throttle.js";
import { startHub, type TestHub } from "./helpers.js";

/**
 * The hub caches accepted device logins. A change through the hub forgets them at once (the
 * lifecycle tests measure it); a change it did not make itself — a row edited by hand, a
 * restored backup — must still be honoured, within the cache's 60 s, not at the next restart.
 */
describe("the device login cache", () => {
  let t: TestHub;
  let projectId: string;

  beforeAll(async () => {
    t = await startHub();
    projectId = (
      await t.client.call(projectRoutes.create, {
        body: { slug: "cache", name: "Cache", task: "classification", labels: ["ok", "dent"], okLabels: ["ok"] },
      })
    ).id;
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("drops a login whose row changed behind its back within a minute", async () => {
    const { secret } = await t.client.call(fleetRoutes.enroll, { body: { projectId, id: "cache-1", tags: [] } });
    const auth = new DeviceAuth(t.hub.store.db);
    expect(await auth.verify("cache-1", secret)).toEqual({ deviceId: "cache-1", projectId });
    const hashes = auth.hashChecks;
    // cached: no hash compared again
    expect(await auth.verify("cache-1", secret)).not.toBeNull();
    expect(auth.hashChecks).toBe(hashes);

    const other = await DeviceAuth.hash("another-secret");
    await t.hub.store.db
      .updateTable("devices")
      .set({ secret_hash: other.hash, secret_salt: other.salt })
      .where("id", "=", "cache-1")
      .execute();
    const now = Date.now();
    vi.spyOn(Date, "now").mockReturnValue(now + 59_000);
    expect(await auth.verify("cache-1", secret), "still within the cache's lifetime").not.toBeNull();
    vi.spyOn(Date, "now").mockReturnValue(now + 61_000);
    expect(await auth.verify("cache-1", secret), "past it, the row is read again").toBeNull();
    expect(await auth.verify("cache-1", "another-secret")).not.toBeNull();
  });

  it("re-checks a login past its lifetime even while its device id is locked out", async () => {
    const { secret } = await t.client.call(fleetRoutes.enroll, { body: { projectId, id: "cache-2", tags: [] } });
    // a throttle with its own clock, so the lockout outlasts the cache's minute
    let clock = Date.now();
    const throttle = new DeviceAuthThrottle({
      db: t.hub.store.db,
      config: { maxFailures: 2, ipMaxFailures: 0, windowMs: 600_000, lockMs: 600_000, maxLockMs: 600_000 },
      log: t.hub.app.log,
      now: () => clock,
    });
    const auth = new DeviceAuth(t.hub.store.db, throttle);
    expect(await auth.verify("cache-2", secret, "10.0.0.1")).not.toBeNull();
    // someone guessing the device's secret locks its id out
    for (const guess of ["guess-1", "guess-2"]) expect(await auth.verify("cache-2", guess, "10.0.0.9")).toBeNull();
    await expect(auth.verify("cache-2", "guess-3", "10.0.0.9")).rejects.toMatchObject({
      code: "KENSA_ERR_DEVICE_AUTH_THROTTLED",
    });
    const hashes = auth.hashChecks;
    clock += 61_000;
    vi.spyOn(Date, "now").mockReturnValue(clock);
    // the device's own secret, past the cache's lifetime: compared again, not throttled
    expect(await auth.verify("cache-2", secret, "10.0.0.1")).not.toBeNull();
    expect(auth.hashChecks, "read and compared again").toBe(hashes + 1);
  });
});
