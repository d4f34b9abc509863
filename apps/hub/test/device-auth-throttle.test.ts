import { fleetRoutes, type HubHealth, projectRoutes } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceAuthThrottle } from "../src/fleet/device-auth-throttle.js";
import { basic, connectDevice, startHub, type TestHub } from "./helpers.js";

/** The CONNACK return code of a refused CONNECT (0 when it was accepted). */
async function connack(url: string, id: string, secret: string): Promise<number> {
  try {
    const c = await connectDevice(url, id, secret);
    await c.endAsync(true);
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("device authentication throttling", () => {
  let t: TestHub;
  let projectId: string;
  const enroll = async (id: string) =>
    (await t.client.call(fleetRoutes.enroll, { body: { projectId, id, tags: [] } })).secret;
  /** stored secrets compared so far, as /metrics reports them */
  const hashChecks = async () => {
    const text = (await t.call<string>("GET", "/metrics")).json;
    return Number(/kensa_device_auth_total\{what="checked"\} (\d+)/.exec(text)?.[1]);
  };
  const deviceCall = (id: string, secret: string) =>
    t.call<{ error: { code: string; details: { retryAfterSec: number; scope: string } } }>(
      "PUT",
      `/api/v1/devices/${id}/frame`,
      { auth: basic(id, secret), headers: { "content-type": "image/jpeg" }, raw: Buffer.from([0xff, 0xd8]) },
    );

  beforeAll(async () => {
    t = await startHub({
      auth: {
        deviceThrottle: { maxFailures: 3, ipMaxFailures: 1000, windowMs: 60_000, lockMs: 1500, maxLockMs: 6000 },
      },
    });
    projectId = (
      await t.client.call(projectRoutes.create, {
        body: { slug: "throttle", name: "Throttle", task: "classification", labels: ["ok", "dent"], okLabels: ["ok"] },
      })
    ).id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("locks out a device id guessed over MQTT before hashing, and lets the right secret in after the window", async () => {
    const secret = await enroll("brute-1");
    for (let i = 0; i < 3; i++) expect(await connack(t.mqttUrl, "brute-1", `guess-${i}`)).toBe(4);
    const checked = await hashChecks();
    // the 4th guess, and even the right secret (never seen succeed here), are refused unchecked
    expect(await connack(t.mqttUrl, "brute-1", "guess-3")).toBe(3);
    expect(await connack(t.mqttUrl, "brute-1", secret)).toBe(3);
    expect(await hashChecks()).toBe(checked);

    const health = (await t.call<HubHealth>("GET", "/health")).json;
    const problem = health.problems.find((p) => p.code === "KENSA_ERR_DEVICE_AUTH_THROTTLED");
    expect(problem?.message).toContain("brute-1");
    expect(health.status).toBe("degraded");
    const metrics = (await t.call<string>("GET", "/metrics")).json;
    expect(metrics).toMatch(/kensa_device_auth_total\{what="failed"\} [3-9]/);
    expect(metrics).toMatch(/kensa_device_auth_total\{what="throttled"\} [2-9]/);
    expect(metrics).toMatch(/kensa_device_auth_locked\{scope="device"\} 1/);

    // device HTTP calls are held to the same lockout: 429 with Retry-After
    const http = await deviceCall("brute-1", "guess-4");
    expect(http.status).toBe(429);
    expect(http.json.error.code).toBe("KENSA_ERR_DEVICE_AUTH_THROTTLED");
    expect(http.json.error.details.scope).toBe("device");
    expect(Number(http.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);

    await sleep(1600);
    expect(await connack(t.mqttUrl, "brute-1", secret)).toBe(0);
    expect(await hashChecks()).toBe(checked + 1);
    const after = (await t.call<HubHealth>("GET", "/health")).json;
    expect(after.problems.some((p) => p.message.includes("brute-1"))).toBe(false);
  });

  it("doubles the lockout when guessing resumes, and counts a repeated stale secret once", async () => {
    await enroll("brute-2");
    // a device retrying with one stale secret is one failure, however often it retries
    for (let i = 0; i < 6; i++) expect(await connack(t.mqttUrl, "brute-2", "stale")).toBe(4);
    for (let i = 0; i < 2; i++) expect(await connack(t.mqttUrl, "brute-2", `g-${i}`)).toBe(4);
    expect(await connack(t.mqttUrl, "brute-2", "g-2")).toBe(3);
    await sleep(1600);
    for (let i = 3; i < 6; i++) expect(await connack(t.mqttUrl, "brute-2", `g-${i}`)).toBe(4);
    // second lockout: 3 s, so still refused where the first would have ended
    await sleep(1600);
    expect(await connack(t.mqttUrl, "brute-2", "g-6")).toBe(3);
  });

  it("lets a device whose secret already succeeded connect while its id is being guessed", async () => {
    const secret = await enroll("live-1");
    expect(await connack(t.mqttUrl, "live-1", secret)).toBe(0);
    for (let i = 0; i < 3; i++) expect(await connack(t.mqttUrl, "live-1", `x-${i}`)).toBe(4);
    expect(await connack(t.mqttUrl, "live-1", "x-3")).toBe(3);
    expect(await connack(t.mqttUrl, "live-1", secret)).toBe(0);
  });

  it("shares a lockout with another replica through the database", async () => {
    const config = { maxFailures: 2, ipMaxFailures: 0, windowMs: 60_000, lockMs: 60_000, maxLockMs: 60_000 };
    const log = { debug() {}, info() {}, warn() {}, error() {} };
    const a = new DeviceAuthThrottle({ db: t.hub.store.db, config, log });
    const b = new DeviceAuthThrottle({ db: t.hub.store.db, config, log });
    expect(await b.retryAfterMs("shared-1", "10.0.0.9")).toBeNull();
    await a.failed("shared-1", "10.0.0.9", "g1");
    await a.failed("shared-1", "10.0.0.9", "g2");
    expect((await a.retryAfterMs("shared-1", "10.0.0.9"))?.scope).toBe("device");
    // b read the (empty) table a moment ago; it looks again within a second
    await sleep(1100);
    const wait = await b.retryAfterMs("shared-1", "10.0.0.10");
    expect(wait?.scope).toBe("device");
    expect(wait!.ms).toBeGreaterThan(50_000);
    expect(b.problems()[0]?.message).toContain("shared-1");
  });
});

describe("device authentication throttling per address", () => {
  it("locks out an address guessing across device ids, over MQTT and HTTP, before hashing", async () => {
    const t = await startHub({
      auth: {
        deviceThrottle: { maxFailures: 100, ipMaxFailures: 4, windowMs: 60_000, lockMs: 60_000, maxLockMs: 60_000 },
      },
    });
    try {
      const { id: projectId } = await t.client.call(projectRoutes.create, {
        body: { slug: "ip", name: "Ip", task: "classification", labels: ["ok", "dent"], okLabels: ["ok"] },
      });
      const secrets: Record<string, string> = {};
      for (const id of ["ip-a", "ip-b", "ip-c"]) {
        secrets[id] = (await t.client.call(fleetRoutes.enroll, { body: { projectId, id, tags: [] } })).secret;
      }
      // one wrong guess each on two ids and two on an unknown one: no id is near its own limit
      expect(await connack(t.mqttUrl, "ip-a", "p")).toBe(4);
      expect(await connack(t.mqttUrl, "ip-b", "p")).toBe(4);
      expect(await connack(t.mqttUrl, "nobody", "p")).toBe(4);
      expect(await connack(t.mqttUrl, "nobody", "q")).toBe(4);
      const metric = async (what: string) =>
        Number(
          new RegExp(`kensa_device_auth_total\\{what="${what}"\\} (\\d+)`).exec(
            (await t.call<string>("GET", "/metrics")).json,
          )?.[1],
        );
      const checked = await metric("checked");
      // the address is locked: a third id, never guessed, with its right secret, is refused unchecked
      expect(await connack(t.mqttUrl, "ip-c", secrets["ip-c"]!)).toBe(3);
      const http = await t.call<{ error: { code: string; details: { scope: string } } }>(
        "PUT",
        "/api/v1/devices/ip-c/frame",
        {
          auth: basic("ip-c", secrets["ip-c"]!),
          headers: { "content-type": "image/jpeg" },
          raw: Buffer.from([0xff, 0xd8]),
        },
      );
      expect(http.status).toBe(429);
      expect(http.json.error.code).toBe("KENSA_ERR_DEVICE_AUTH_THROTTLED");
      expect(http.json.error.details.scope).toBe("ip");
      expect(Number(http.headers.get("retry-after"))).toBeGreaterThan(50);
      expect(await metric("checked")).toBe(checked);
      expect(await metric("lockout_ip")).toBe(1);
      const health = (await t.call<HubHealth>("GET", "/health")).json;
      expect(health.problems.find((p) => p.code === "KENSA_ERR_DEVICE_AUTH_THROTTLED")?.message).toContain(
        "source address",
      );
    } finally {
      await t.close();
    }
  });
});
