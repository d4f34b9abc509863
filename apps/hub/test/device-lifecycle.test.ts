import { randomBytes } from "node:crypto";
import type { Device, EnrolledDevice } from "@kensa/contracts";
import { topics } from "@kensa/contracts";
import { needService, waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "./auth-fixtures.js";
import {
  basic,
  connectDevice,
  JPEG_TINY,
  makeEvent,
  nextMessage,
  seed,
  startHub,
  subscribeQos,
  type TestHub,
} from "./helpers.js";
import { findMosquitto, type Mosquitto, startMosquitto } from "./mosquitto-fixture.js";

/**
 * A device's credentials from enrolment to rotation and revocation, with real MQTT.js clients,
 * on the embedded broker and on a Mosquitto whose accounts the hub manages (dynamic security).
 */
const found = findMosquitto();
const noMosquitto = needService("mosquitto with its dynamic-security plugin (device lifecycle)", found !== null);

interface Setup {
  name: string;
  skip: boolean;
  start(): Promise<{ t: TestHub; stop(): Promise<void> }>;
}

const setups: Setup[] = [
  {
    name: "embedded broker",
    skip: false,
    start: async () => {
      const t = await startHub();
      return { t, stop: () => t.close() };
    },
  },
  {
    name: "mosquitto with dynamic security",
    skip: noMosquitto,
    start: async () => {
      const m: Mosquitto = await startMosquitto(found!);
      let t: TestHub;
      try {
        t = await startHub({
          mqtt: {
            embedded: { enabled: false },
            url: m.url,
            username: "kensa-hub",
            password: randomBytes(12).toString("base64url"),
            dynsec: { enabled: true, adminUsername: m.adminUsername, adminPassword: m.adminPassword, retryMs: 200 },
          },
        });
      } catch (err) {
        await m.close();
        throw err;
      }
      return {
        t,
        stop: async () => {
          await t.close();
          await m.close();
        },
      };
    },
  },
];

/** Resolves when the client's connection closes (the broker ended it). */
const closed = (c: MqttClient) => new Promise<void>((resolve) => c.once("close", () => resolve()));

describe.each(setups)("device lifecycle on the $name", (setup) => {
  let t: TestHub;
  let stop: () => Promise<void>;
  let secrets: Record<string, string>;
  const clients: MqttClient[] = [];
  const device = (id: string, secret: string) =>
    connectDevice(t.mqttUrl, id, secret, { clientId: id }).then((c) => {
      clients.push(c);
      return c;
    });
  const frame = (id: string, secret: string) =>
    t.call("PUT", `/api/v1/devices/${id}/frame`, {
      auth: basic(id, secret),
      headers: { "content-type": "image/jpeg" },
      raw: JPEG_TINY,
    });

  beforeAll(async () => {
    if (setup.skip) return;
    ({ t, stop } = await setup.start());
    ({ secrets } = await seed(t.call, "life", [{ id: "cam-a" }, { id: "cam-b" }, { id: "cam-r" }, { id: "cam-x" }]));
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await stop?.();
  });

  it.skipIf(setup.skip)("lets an enrolled device publish its events, which the hub stores", async () => {
    const a = await device("cam-a", secrets["cam-a"]!);
    const ev = makeEvent("cam-a", { label: "defect", score: 0.93 });
    await a.publishAsync(topics.events("cam-a"), JSON.stringify(ev), { qos: 1 });
    await waitFor("event stored", async () => (await t.call("GET", `/api/v1/events/${ev.id}`)).status === 200, {
      timeoutMs: 10_000,
    });
    const d = (await t.call<Device>("GET", "/api/v1/devices/cam-a")).json;
    expect(d.revokedAt).toBeNull();
    expect(d.brokerAccount).toBe("ok");
  });

  it.skipIf(setup.skip)("keeps a device out of another device's topics", async () => {
    const b = await device("cam-b", secrets["cam-b"]!);
    const seen: string[] = [];
    b.on("message", (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    expect(await subscribeQos(b, `${topics.devicePrefix("cam-b")}#`)).toBe(1);

    const x = await device("cam-x", secrets["cam-x"]!);
    for (const filter of [
      topics.events("cam-b"),
      topics.allDevices("events"),
      "#",
      `$share/g/${topics.allDevices("+")}`,
    ]) {
      expect(await subscribeQos(x, filter), filter).toBe(128);
    }
    // impersonation: cam-x publishes as cam-b, and forges cam-b's desired state. The embedded
    // broker ends the connection, Mosquitto drops the messages (MQTT 3.1.1 cannot refuse one).
    const forged = makeEvent("cam-b", { label: "defect" });
    x.publish(topics.events("cam-b"), JSON.stringify(forged), { qos: 0 });
    x.publish(topics.desired("cam-b"), JSON.stringify({ forged: true }), { qos: 0 });

    // a message of cam-b's own, sent after, arrives: anything forged would have come before it
    const sentinel = makeEvent("cam-b", { label: "ok" });
    const own = nextMessage(b, topics.events("cam-b"));
    await b.publishAsync(topics.events("cam-b"), JSON.stringify(sentinel), { qos: 1 });
    await own;
    await waitFor("sentinel stored", async () => (await t.call("GET", `/api/v1/events/${sentinel.id}`)).status === 200);
    expect(seen.filter((m) => m.includes(forged.id) || m.includes("forged"))).toEqual([]);
    expect((await t.call("GET", `/api/v1/events/${forged.id}`)).status).toBe(404);
  });

  it.skipIf(setup.skip)(
    "rotates a secret: old one refused over MQTT and HTTP, live session ended, new one works",
    async () => {
      const a = await device("cam-a", secrets["cam-a"]!);
      expect((await frame("cam-a", secrets["cam-a"]!)).status).toBe(204);
      const kicked = closed(a);
      const r = await t.call<EnrolledDevice>("POST", "/api/v1/devices/cam-a/secret/rotate");
      expect(r.status).toBe(200);
      expect(r.json.secret).not.toBe(secrets["cam-a"]);
      expect(r.json.device.id).toBe("cam-a");
      expect(r.json.mqttUrl).toBe(t.mqttUrl);
      await kicked;

      await expect(device("cam-a", secrets["cam-a"]!)).rejects.toThrow();
      expect((await frame("cam-a", secrets["cam-a"]!)).status).toBe(401);
      const again = await device("cam-a", r.json.secret);
      expect(again.connected).toBe(true);
      expect((await frame("cam-a", r.json.secret)).status).toBe(204);
      secrets["cam-a"] = r.json.secret;

      const audit = await t.call<{ items: Array<{ action: string; targetId: string }> }>(
        "GET",
        "/api/v1/audit?action=device.secret_rotate",
      );
      expect(audit.json.items.map((e) => e.targetId)).toContain("cam-a");
    },
  );

  it.skipIf(setup.skip)("revokes a device: kicked, refused, its data kept; rotating re-enables it", async () => {
    const r = await device("cam-r", secrets["cam-r"]!);
    const ev = makeEvent("cam-r");
    await r.publishAsync(topics.events("cam-r"), JSON.stringify(ev), { qos: 1 });
    await waitFor("event stored", async () => (await t.call("GET", `/api/v1/events/${ev.id}`)).status === 200);

    const kicked = closed(r);
    const res = await t.call<Device>("POST", "/api/v1/devices/cam-r/revoke");
    expect(res.status).toBe(200);
    expect(res.json.revokedAt).toEqual(expect.any(String));
    expect(res.json.brokerAccount).toBe("ok");
    await kicked;

    await expect(device("cam-r", secrets["cam-r"]!)).rejects.toThrow();
    expect((await frame("cam-r", secrets["cam-r"]!)).status).toBe(401);
    // the row and its data stay; revoking again keeps the first time
    expect((await t.call("GET", `/api/v1/events/${ev.id}`)).status).toBe(200);
    const twice = await t.call<Device>("POST", "/api/v1/devices/cam-r/revoke");
    expect(twice.json.revokedAt).toBe(res.json.revokedAt);

    const rotated = await t.call<EnrolledDevice>("POST", "/api/v1/devices/cam-r/secret/rotate");
    expect(rotated.json.device.revokedAt).toBeNull();
    await device("cam-r", rotated.json.secret);
    expect((await frame("cam-r", rotated.json.secret)).status).toBe(204);
  });

  it.skipIf(setup.skip)("answers 404 for an unknown device and 403 without devices:manage", async () => {
    for (const path of ["/api/v1/devices/nope/revoke", "/api/v1/devices/nope/secret/rotate"]) {
      const res = await t.call<{ error: { code: string } }>("POST", path);
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe("KENSA_ERR_DEVICE_NOT_FOUND");
    }
    const site = await createUser(t.httpUrl, t.call, "site_engineer");
    const res = await site.call<{ error: { code: string } }>("POST", "/api/v1/devices/cam-b/revoke");
    expect(res.status).toBe(403);
    expect((await t.call<Device>("GET", "/api/v1/devices/cam-b")).json.revokedAt).toBeNull();
  });
});
