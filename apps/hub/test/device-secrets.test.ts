import { randomBytes, scryptSync } from "node:crypto";
import type { KensaClient } from "@kensa/client";
import { fleetRoutes, projectRoutes } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceAuth } from "../src/fleet/device-auth.js";
import { startHub, type TestHub } from "./helpers.js";

/** Device secrets are 256 random bits: a salted SHA-256 keeps them safe and reconnect storms cheap. */
describe("device secrets at rest", () => {
  let t: TestHub;
  let api: KensaClient;
  let projectId: string;
  const rowOf = (id: string) =>
    t.hub.store.db
      .selectFrom("devices")
      .select(["secret_hash", "secret_salt"])
      .where("id", "=", id)
      .executeTakeFirstOrThrow();

  beforeAll(async () => {
    t = await startHub();
    api = t.client;
    projectId = (
      await api.call(projectRoutes.create, {
        body: { slug: "secrets", name: "Secrets", task: "classification", labels: ["ok", "dent"], okLabels: ["ok"] },
      })
    ).id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("stores a new device's secret as a salted SHA-256, never the secret itself", async () => {
    const { secret } = await api.call(fleetRoutes.enroll, { body: { projectId, id: "fast-1", tags: [] } });
    const row = await rowOf("fast-1");
    expect(row.secret_hash).toMatch(/^sha256\$/);
    expect(row.secret_hash).not.toContain(secret);
    // a fresh checker (nothing cached), as after a hub restart
    const auth = new DeviceAuth(t.hub.store.db);
    expect(await auth.verify("fast-1", secret)).toEqual({ deviceId: "fast-1", projectId });
    expect(await auth.verify("fast-1", `${secret}x`)).toBeNull();
    expect(await auth.verify("fast-2", secret)).toBeNull();
  });

  it("still accepts a secret hashed with scrypt before, and stores its fast form on that success", async () => {
    const { secret } = await api.call(fleetRoutes.enroll, { body: { projectId, id: "legacy-1", tags: [] } });
    const salt = randomBytes(16);
    const legacy = scryptSync(secret, salt, 32, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }).toString("base64");
    await t.hub.store.db
      .updateTable("devices")
      .set({ secret_hash: legacy, secret_salt: salt.toString("base64") })
      .where("id", "=", "legacy-1")
      .execute();
    // a wrong secret changes nothing
    expect(await new DeviceAuth(t.hub.store.db).verify("legacy-1", "not-the-secret")).toBeNull();
    expect((await rowOf("legacy-1")).secret_hash).toBe(legacy);
    expect(await new DeviceAuth(t.hub.store.db).verify("legacy-1", secret)).toEqual({
      deviceId: "legacy-1",
      projectId,
    });
    expect((await rowOf("legacy-1")).secret_hash).toMatch(/^sha256\$/);
    expect(await new DeviceAuth(t.hub.store.db).verify("legacy-1", secret)).toEqual({
      deviceId: "legacy-1",
      projectId,
    });
  });
});
