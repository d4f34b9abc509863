import { randomBytes } from "node:crypto";
import { type Device, type EnrolledDevice, KensaError, topics } from "@kensa/contracts";
import { needService, tempDir, waitFor } from "@kensa/testkit";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHubConfig } from "../src/config.js";
import { createHub } from "../src/index.js";
import { DEVICE_ROLE_PREFIX, deviceAcls } from "../src/ingest/dynsec-acls.js";
import { connectDevice, makeEvent, seed, startHub, subscribeQos, type TestHub } from "./helpers.js";
import { findMosquitto, type Mosquitto, startMosquitto } from "./mosquitto-fixture.js";

/**
 * The hub keeps device accounts on a Mosquitto of the test's own (dynamic-security plugin):
 * the ACL it sets, its own account and shared subscriptions, a broker that cannot be reached,
 * and a broker that lost its state.
 */
describe("mqtt.dynsec config", () => {
  it("requires an external broker, the hub's account and the admin's, naming each key", () => {
    let err: unknown;
    try {
      parseHubConfig({ mqtt: { url: "mqtt://127.0.0.1:1", dynsec: { enabled: true } } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KensaError);
    expect((err as KensaError).code).toBe("KENSA_ERR_CONFIG_INVALID");
    const paths = ((err as KensaError).details as { issues: Array<{ path: string }> }).issues.map((i) => i.path);
    expect(paths).toEqual([
      "/mqtt/embedded/enabled",
      "/mqtt/username",
      "/mqtt/password",
      "/mqtt/dynsec/adminUsername",
      "/mqtt/dynsec/adminPassword",
    ]);
    expect(() => parseHubConfig({ mqtt: { dynsec: { enabled: false, surprise: 1 } } })).toThrow(/surprise/);
  });
});

const found = findMosquitto();
const skip = needService("mosquitto with its dynamic-security plugin (dynsec)", found !== null);

describe.skipIf(skip)("Mosquitto dynamic security managed by the hub", () => {
  let m: Mosquitto;
  let t: TestHub;
  let secrets: Record<string, string>;
  const hubPassword = randomBytes(12).toString("base64url");
  const clients: MqttClient[] = [];
  const track = <C extends MqttClient>(c: C) => {
    clients.push(c);
    return c;
  };
  const admin = async (commands: Array<Record<string, unknown>>) => {
    const c = track(
      await mqtt.connectAsync(m.url, { username: m.adminUsername, password: m.adminPassword, reconnectPeriod: 0 }),
    );
    await c.subscribeAsync("$CONTROL/dynamic-security/v1/response");
    const answer = new Promise<Array<{ error?: string; data?: Record<string, unknown> }>>((resolve) =>
      c.once("message", (_t, p) => resolve(JSON.parse(p.toString()).responses)),
    );
    await c.publishAsync("$CONTROL/dynamic-security/v1", JSON.stringify({ commands }));
    const r = await answer;
    await c.endAsync();
    return r;
  };
  const deviceJson = async (id: string) => (await t.call<Device>("GET", `/api/v1/devices/${id}`)).json;

  beforeAll(async () => {
    m = await startMosquitto(found!);
    t = await startHub({
      mqtt: {
        embedded: { enabled: false },
        url: m.url,
        username: "kensa-hub",
        password: hubPassword,
        dynsec: {
          enabled: true,
          adminUsername: m.adminUsername,
          adminPassword: m.adminPassword,
          retryMs: 200,
          timeoutMs: 2000,
        },
      },
    });
    ({ secrets } = await seed(t.call, "dyn", [{ id: "dyn-1" }, { id: "dyn-2" }, { id: "dyn-3" }]));
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await t?.close();
    await m?.close();
  });

  it("gives each device a client (username and client id = its id) with exactly the ACL of device-acl.ts", async () => {
    const [client, role] = await admin([
      { command: "getClient", username: "dyn-1" },
      { command: "getRole", rolename: `${DEVICE_ROLE_PREFIX}dyn-1` },
    ]);
    expect(client!.data!.client).toMatchObject({
      username: "dyn-1",
      clientid: "dyn-1",
      roles: [{ rolename: "kensa-device-dyn-1" }],
    });
    const acls = (role!.data!.role as { acls: unknown[] }).acls;
    expect(new Set(acls.map((a) => JSON.stringify(a, Object.keys(a as object).sort())))).toEqual(
      new Set(deviceAcls("dyn-1").map((a) => JSON.stringify(a, Object.keys(a).sort()))),
    );
    // another client id with the right secret is refused: no device takes over another's session
    await expect(connectDevice(m.url, "dyn-1", secrets["dyn-1"]!, { clientId: "dyn-2" })).rejects.toThrow();
  });

  it("lets the hub's account subscribe through a shared subscription, and not beyond device topics", async () => {
    const hub = track(
      await mqtt.connectAsync(m.url, { username: "kensa-hub", password: hubPassword, reconnectPeriod: 0 }),
    );
    expect(await subscribeQos(hub, `$share/kensa-hub/${topics.allDevices("events")}`)).toBe(1);
    expect(await subscribeQos(hub, topics.allDevices("+"))).toBe(1);
    expect(await subscribeQos(hub, "#")).toBe(128);
    expect(await subscribeQos(hub, "$CONTROL/dynamic-security/#")).toBe(128);
  });

  it("answers an MQTT 5 publish on another device's topic with a negative PUBACK, and stores nothing", async () => {
    const d = track(await connectDevice(m.url, "dyn-1", secrets["dyn-1"]!, { clientId: "dyn-1", protocolVersion: 5 }));
    const forged = makeEvent("dyn-2");
    const err = await d.publishAsync(topics.events("dyn-2"), JSON.stringify(forged), { qos: 1 }).then(
      () => null,
      (e: { code?: number }) => e,
    );
    expect(err?.code).toBe(135);
    const own = makeEvent("dyn-1");
    await d.publishAsync(topics.events("dyn-1"), JSON.stringify(own), { qos: 1 });
    await waitFor("own event stored", async () => (await t.call("GET", `/api/v1/events/${own.id}`)).status === 200);
    expect((await t.call("GET", `/api/v1/events/${forged.id}`)).status).toBe(404);
  });

  it("surfaces an unreachable broker: enrol and rotate change nothing (503), a revocation is pending and retried", async () => {
    await m.stop();
    const enroll = await t.call<{ error: { code: string } }>("POST", "/api/v1/devices", {
      body: { projectId: (await deviceJson("dyn-1")).projectId, id: "dyn-late", tags: [] },
    });
    expect(enroll.status).toBe(503);
    expect(enroll.json.error.code).toBe("KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE");
    expect((await t.call("GET", "/api/v1/devices/dyn-late")).status).toBe(404);

    const rotate = await t.call<{ error: { code: string } }>("POST", "/api/v1/devices/dyn-2/secret/rotate");
    expect(rotate.status).toBe(503);
    expect(rotate.json.error.code).toBe("KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE");

    const revoke = await t.call<Device>("POST", "/api/v1/devices/dyn-2/revoke");
    expect(revoke.status).toBe(200);
    expect(revoke.json.revokedAt).toEqual(expect.any(String));
    expect(revoke.json.brokerAccount).toBe("pending");

    // the broker comes back with its state: the retry disables the device there
    await m.start();
    await waitFor("revocation confirmed", async () => (await deviceJson("dyn-2")).brokerAccount === "ok", {
      timeoutMs: 15_000,
    });
    await expect(connectDevice(m.url, "dyn-2", secrets["dyn-2"]!, { clientId: "dyn-2" })).rejects.toThrow();
    // the unchanged secret of dyn-1 still works: the failed rotation changed nothing
    track(await connectDevice(m.url, "dyn-1", secrets["dyn-1"]!, { clientId: "dyn-1" }));
  }, 30_000);

  it("repairs a broker that lost its state: accounts recreated, lost passwords marked for rotation", async () => {
    await m.stop();
    await m.start({ wipe: true });
    await waitFor("accounts recreated", async () => (await deviceJson("dyn-3")).brokerAccount === "needs-rotation", {
      timeoutMs: 15_000,
    });
    expect((await deviceJson("dyn-1")).brokerAccount).toBe("needs-rotation");
    // a revoked device needs no password: it stays revoked, its account disabled
    expect((await deviceJson("dyn-2")).brokerAccount).toBe("ok");
    const [revoked] = await admin([{ command: "getClient", username: "dyn-2" }]);
    expect(revoked!.data!.client).toMatchObject({ disabled: true });
    await expect(connectDevice(m.url, "dyn-3", secrets["dyn-3"]!, { clientId: "dyn-3" })).rejects.toThrow();

    // rotation restores it
    const r = await t.call<EnrolledDevice>("POST", "/api/v1/devices/dyn-3/secret/rotate");
    expect(r.status).toBe(200);
    expect(r.json.device.brokerAccount).toBe("ok");
    const d = track(await connectDevice(m.url, "dyn-3", r.json.secret, { clientId: "dyn-3" }));
    // and the hub's own account is back, with its ACL: a message of the device reaches it
    const hub = track(
      await mqtt.connectAsync(m.url, { username: "kensa-hub", password: hubPassword, reconnectPeriod: 0 }),
    );
    // a group of its own: in the hub's group, the message could go to the hub's client instead
    expect(await subscribeQos(hub, `$share/repair-check/${topics.allDevices("events")}`)).toBe(1);
    const ev = makeEvent("dyn-3");
    const heard = new Promise<string>((resolve) => hub.once("message", (_t, p) => resolve(p.toString())));
    await d.publishAsync(topics.events("dyn-3"), JSON.stringify(ev), { qos: 1 });
    expect(JSON.parse(await heard).id).toBe(ev.id);
  }, 40_000);
});

describe.skipIf(skip)("a hub whose dynsec admin is refused", () => {
  it("does not start, and says why with a code", async () => {
    const m = await startMosquitto(found!);
    const dir = await tempDir("kensa-hub-dynsec-");
    try {
      const hub = await createHub({
        dataDir: dir.path,
        http: { host: "127.0.0.1", port: 0 },
        logLevel: "silent",
        mqtt: {
          embedded: { enabled: false },
          url: m.url,
          username: "kensa-hub",
          password: "hub-password",
          dynsec: { enabled: true, adminUsername: m.adminUsername, adminPassword: "wrong", timeoutMs: 1000 },
        },
      });
      await expect(hub.start()).rejects.toMatchObject({ code: "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE" });
    } finally {
      await m.close();
      await dir.remove();
    }
  }, 20_000);
});
