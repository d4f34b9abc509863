import { topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backends,
  basic,
  connectDevice,
  makeEvent,
  nextMessage,
  startHub,
  subscribeQos,
  type TestHub,
} from "./helpers.js";

const list = await backends("auth_acl");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("enrollment, auth and ACL ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let secretA: string;
  let secretB: string;

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    const p = await t.call<{ id: string }>("POST", "/api/v1/projects", {
      body: { slug: "acl", name: "ACL", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    projectId = p.json.id;
  });
  afterAll(async () => {
    await t.close();
  });

  it("admin routes need the admin token", async () => {
    expect((await t.call("GET", "/api/v1/projects", { auth: null })).json).toMatchObject({
      error: { code: "KENSA_ERR_UNAUTHORIZED" },
    });
    const wrong = await t.call("GET", "/api/v1/projects", { auth: "Bearer nope" });
    expect(wrong.status).toBe(401);
    expect((await t.call("GET", "/health", { auth: null })).status).toBe(200);
    const missing = await t.call("GET", "/api/v1/nope");
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ error: { code: "KENSA_ERR_NOT_FOUND" } });
  });

  it("enrolls a device and shows its secret once", async () => {
    const e = await t.call<{
      secret: string;
      mqttUrl: string;
      hubUrl: string;
      command: string;
      device: { id: string; presence: string };
    }>("POST", "/api/v1/devices", { body: { projectId, id: "cam-a", tags: ["line-1"] } });
    expect(e.status).toBe(201);
    expect(e.json.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(e.json.mqttUrl).toBe(t.mqttUrl);
    expect(e.json.hubUrl).toBe(t.httpUrl);
    expect(e.json.command).toBe(`kensa agent --hub ${t.httpUrl} --mqtt ${t.mqttUrl} --device cam-a`);
    expect(e.json.device).toMatchObject({ id: "cam-a", presence: "never" });
    secretA = e.json.secret;

    const got = await t.call<Record<string, unknown>>("GET", "/api/v1/devices/cam-a");
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.json)).not.toContain(secretA);
    const all = await t.call<{ items: unknown[] }>("GET", "/api/v1/devices");
    expect(JSON.stringify(all.json)).not.toContain(secretA);

    const again = await t.call("POST", "/api/v1/devices", { body: { projectId, id: "cam-a" } });
    expect(again.json).toMatchObject({ error: { code: "KENSA_ERR_DEVICE_EXISTS" } });
    const b = await t.call<{ secret: string }>("POST", "/api/v1/devices", { body: { projectId, id: "cam-b" } });
    secretB = b.json.secret;
    const gen = await t.call<{ device: { id: string } }>("POST", "/api/v1/devices", { body: { projectId } });
    expect(gen.json.device.id).toMatch(/^acl-[0-9a-f]{8}$/);
  });

  it("refuses bad enrollments", async () => {
    expect((await t.call("POST", "/api/v1/devices", { body: { projectId: "prj_nope" } })).json).toMatchObject({
      error: { code: "KENSA_ERR_PROJECT_NOT_FOUND" },
    });
    const bad = await t.call<{ error: { code: string; details: { issues: Array<{ path: string }> } } }>(
      "POST",
      "/api/v1/devices",
      { body: { projectId, id: "Bad/Id", extra: 1 } },
    );
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("KENSA_ERR_VALIDATION");
    expect((await t.call("POST", "/api/v1/devices", { body: { projectId, id: "kensa-hub" } })).status).toBe(400);
  });

  it("refuses a wrong secret over MQTT and HTTP", async () => {
    await expect(connectDevice(t.mqttUrl, "cam-a", "wrong-secret")).rejects.toThrow(
      /Bad username or password|Not authorized/i,
    );
    await expect(connectDevice(t.mqttUrl, "cam-a", secretB)).rejects.toThrow();
    await expect(connectDevice(t.mqttUrl, "kensa-hub", "guess")).rejects.toThrow();
    const sha = "0".repeat(64);
    const wrong = await t.call("GET", `/api/v1/blobs/${sha}`, { auth: basic("cam-a", "wrong") });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({ error: { code: "KENSA_ERR_UNAUTHORIZED" } });
    const right = await t.call("GET", `/api/v1/blobs/${sha}`, { auth: basic("cam-a", secretA) });
    expect(right.json).toMatchObject({ error: { code: "KENSA_ERR_BLOB_NOT_FOUND" } });
    // a device may not call admin routes, even with valid credentials
    expect((await t.call("GET", "/api/v1/projects", { auth: basic("cam-a", secretA) })).status).toBe(403);
    expect(t.hub.broker?.counters.authRefused).toBeGreaterThanOrEqual(3);
  });

  it("lets a device use its own topics and refuses another device's", async () => {
    const a = await connectDevice(t.mqttUrl, "cam-a", secretA);
    const b = await connectDevice(t.mqttUrl, "cam-b", secretB);
    try {
      // own subscription granted, another device's refused (SUBACK 0x80), wildcards too
      expect(await subscribeQos(a, `${topics.devicePrefix("cam-a")}#`)).toBe(1);
      expect(await subscribeQos(a, topics.desired("cam-b"))).toBe(128);
      expect(await subscribeQos(a, "kensa/v1/devices/+/events")).toBe(128);
      expect(await subscribeQos(a, "#")).toBe(128);
      expect(await subscribeQos(a, `$share/g/${topics.desired("cam-a")}`)).toBe(128);
      expect(t.hub.broker?.counters.subscribeRefused).toBe(4);

      // its own event is stored
      await a.publishAsync(topics.events("cam-a"), JSON.stringify(makeEvent("cam-a")), { qos: 1 });
      await waitFor("own event stored", () => t.hub.ingest.counters.stored >= 1, { timeoutMs: 5000 });

      // b publishing as a: refused, disconnected, nothing stored
      const before = t.hub.ingest.counters.received;
      const closed = new Promise<void>((r) => b.once("close", () => r()));
      b.publish(topics.events("cam-a"), JSON.stringify(makeEvent("cam-a")), { qos: 1 });
      await closed;
      expect(t.hub.broker?.counters.publishRefused).toBe(1);
      // b may not publish desired state for itself either (only the hub does)
      const b2 = await connectDevice(t.mqttUrl, "cam-b", secretB);
      const closed2 = new Promise<void>((r) => b2.once("close", () => r()));
      b2.publish(topics.desired("cam-b"), "{}", { qos: 1, retain: true });
      await closed2;
      expect(t.hub.broker?.counters.publishRefused).toBe(2);
      await new Promise((r) => setTimeout(r, 200));
      expect(t.hub.ingest.counters.received).toBe(before);

      // and a still works after all that
      const seen = nextMessage(a, topics.desired("cam-a"));
      await a.subscribeAsync(topics.desired("cam-a"), { qos: 1 });
      const desired = JSON.parse((await seen).payload.toString()) as { v: number; rev: number };
      expect(desired).toMatchObject({ v: 1, rev: 0 });
    } finally {
      await a.endAsync(true);
      await b.endAsync(true);
    }
  });

  it("does not let a device take over another's client id", async () => {
    const a = await connectDevice(t.mqttUrl, "cam-a", secretA, { clientId: "cam-a-session" });
    try {
      await expect(connectDevice(t.mqttUrl, "cam-b", secretB, { clientId: "cam-a-session" })).rejects.toThrow();
      expect(a.connected).toBe(true);
    } finally {
      await a.endAsync(true);
    }
  });

  it("tracks presence from the device and its last will", async () => {
    const a = await connectDevice(t.mqttUrl, "cam-a", secretA, {
      will: {
        topic: topics.presence("cam-a"),
        payload: Buffer.from(JSON.stringify({ v: 1, status: "offline" })),
        qos: 1,
        retain: true,
      },
    });
    await a.publishAsync(topics.presence("cam-a"), JSON.stringify({ v: 1, status: "online" }), {
      qos: 1,
      retain: true,
    });
    const online = await waitFor("online", async () => {
      const d = await t.call<{ presence: string; lastSeenAt: string | null }>("GET", "/api/v1/devices/cam-a");
      return d.json.presence === "online" ? d.json : null;
    });
    expect(online.lastSeenAt).not.toBeNull();
    const stats = await t.call<{ devices: { online: number } }>("GET", "/api/v1/stats");
    expect(stats.json.devices.online).toBe(1);
    a.stream.destroy(); // an unclean drop makes the broker publish the last will
    await waitFor("offline by last will", async () => {
      const d = await t.call<{ presence: string }>("GET", "/api/v1/devices/cam-a");
      return d.json.presence === "offline";
    });
    await a.endAsync(true);
  });
});
