import { X509Certificate } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createServer as createTlsServer, connect as tlsConnect } from "node:tls";
import { KensaClient } from "@kensa/client";
import { fleetRoutes, projectRoutes, topics } from "@kensa/contracts";
import {
  type TempDir,
  type TestCertificateAuthority,
  tempDir,
  testCertificateAuthority,
  waitFor,
} from "@kensa/testkit";
import { Aedes } from "aedes";
import mqtt, { type IClientOptions } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHub, type Hub } from "../src/index.js";

/** The typed client over `app.inject` (the API's setup here is not what is under test). */
function injectClient(hub: Hub): KensaClient {
  const injectFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const res = await hub.app.inject({
      method: (init.method ?? "GET") as "GET",
      url: url.pathname + url.search,
      headers: Object.fromEntries(new Headers(init.headers)),
      ...(typeof init.body === "string" ? { payload: init.body } : {}),
    });
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, String(v));
    return new Response(res.rawPayload.length ? (res.rawPayload as unknown as BodyInit) : null, {
      status: res.statusCode,
      headers,
    });
  };
  return new KensaClient({
    baseUrl: "http://hub.invalid",
    auth: { kind: "bearer", token: hub.adminToken },
    fetch: injectFetch as typeof fetch,
  });
}

/** GET over HTTPS with node:https; resolves with the status, rejects with the TLS error. */
function httpsGet(url: string, ca?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("error", reject);
    req.end();
  });
}

/** Connects an MQTT client once (no reconnect); resolves on CONNACK, rejects with the error or refusal. */
function mqttConnect(url: string, opts: IClientOptions): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts });
    c.once("connect", () => resolve(c));
    c.once("error", (err) => {
      c.end(true);
      reject(err);
    });
    c.once("close", () => reject(new Error("closed before CONNACK")));
  });
}

/** The serial number of the certificate a TLS server presents. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.end();
    });
    s.once("error", reject);
  });
}

describe("TLS: HTTPS and MQTT over TLS from configured certificate files", () => {
  let dir: TempDir;
  let ca: TestCertificateAuthority;
  let hub: Hub;
  let httpUrl: string;
  let mqttUrl: string;
  let api: KensaClient;
  let secret: string;
  let files: { cert: string; key: string };

  beforeAll(async () => {
    dir = await tempDir();
    ca = await testCertificateAuthority();
    files = await ca.write(dir.path, "server", await ca.server());
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      http: { port: 0, tls: files },
      mqtt: { embedded: { port: 0, tls: { ...files, clientCertificates: "optional" } } },
      logLevel: "silent",
    });
    ({ httpUrl, mqttUrl } = await hub.start());
    api = injectClient(hub);
    const project = await api.call(projectRoutes.create, {
      body: { slug: "tls", name: "TLS", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    const enrolled = await api.call(fleetRoutes.enroll, { body: { projectId: project.id, id: "cam-1", tags: [] } });
    await api.call(fleetRoutes.enroll, { body: { projectId: project.id, id: "cam-2", tags: [] } });
    secret = enrolled.secret;
    // agents are told the TLS URLs
    expect(enrolled.hubUrl).toBe(httpUrl);
    expect(enrolled.mqttUrl).toBe(mqttUrl);
  });

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("binds loopback by default and gives https:// and mqtts:// URLs", () => {
    expect(hub.config.http.host).toBe("127.0.0.1");
    expect(hub.config.mqtt.embedded.host).toBe("127.0.0.1");
    expect(httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(mqttUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(hub.plainListeners).toEqual([]);
  });

  it("serves HTTPS to a client that trusts the CA, and refuses the others", async () => {
    expect(await httpsGet(`${httpUrl}/health`, ca.cert)).toBe(200);
    await expect(httpsGet(`${httpUrl}/health`)).rejects.toThrow(/self[- ]signed|unable to verify|local issuer/i);
    // plain HTTP to the HTTPS port gets no HTTP answer
    await expect(fetch(`${httpUrl.replace("https:", "http:")}/health`)).rejects.toThrow();
  });

  it("takes a device over MQTT/TLS with its secret; refuses clients without the CA and plain MQTT", async () => {
    const c = await mqttConnect(mqttUrl, { ca: ca.cert, clientId: "cam-1", username: "cam-1", password: secret });
    await c.publishAsync(topics.presence("cam-1"), JSON.stringify({ v: 1, status: "online" }), { qos: 1 });
    await c.endAsync();
    await expect(mqttConnect(mqttUrl, { clientId: "cam-1", username: "cam-1", password: secret })).rejects.toThrow(
      /self[- ]signed|unable to verify|local issuer/i,
    );
    await expect(
      mqttConnect(mqttUrl.replace("mqtts:", "mqtt:"), { clientId: "cam-1", username: "cam-1", password: secret }),
    ).rejects.toThrow();
    await expect(
      mqttConnect(mqttUrl, { ca: ca.cert, clientId: "cam-1", username: "cam-1", password: "wrong" }),
    ).rejects.toThrow(/Bad username or password|Not authorized/i);
  });

  it("authenticates a device by the client certificate the hub issued, with the device's ACL, until it is revoked", async () => {
    expect(hub.deviceCa).not.toBeNull();
    // issued through the API (recorded: the broker takes only certificates the hub recorded)
    const issued = await api.call(fleetRoutes.issueCertificate, {
      params: { id: "cam-2" },
      body: { generateKey: true },
    });
    expect(new X509Certificate(issued.chain).subject).toContain("CN=cam-2");
    const withCert = { ca: ca.cert, cert: issued.chain, key: issued.key, clientId: "cam-2" };
    // no username, no password: the certificate is the credential
    const c = await mqttConnect(mqttUrl, withCert);
    await c.publishAsync(topics.presence("cam-2"), JSON.stringify({ v: 1, status: "online" }), { qos: 1 });
    await waitFor(
      "cam-2 online",
      async () => (await api.call(fleetRoutes.get, { params: { id: "cam-2" } })).presence === "online",
    );
    // the same ACL as with a secret: another device's topics close the connection
    const closed = new Promise<void>((resolve) => c.once("close", () => resolve()));
    c.publish(topics.presence("cam-1"), JSON.stringify({ v: 1, status: "offline" }), { qos: 1 });
    await closed;
    c.end(true);
    // a certificate names one device; claiming another username with it is refused
    await expect(mqttConnect(mqttUrl, { ...withCert, username: "cam-1", password: secret })).rejects.toThrow(
      /Bad username or password/i,
    );
    // a certificate for a device id that was never enrolled is refused
    const stranger = await hub.deviceCa!.issue("cam-9");
    await expect(mqttConnect(mqttUrl, { ...withCert, cert: stranger.cert, key: stranger.key })).rejects.toThrow(
      /Not authorized/i,
    );
    await api.call(fleetRoutes.revoke, { params: { id: "cam-2" } });
    await expect(mqttConnect(mqttUrl, withCert)).rejects.toThrow(/Not authorized/i);
  });

  it("reads new certificate files on reload; connections made after it see them", async () => {
    const before = await servedSerial(Number(new URL(httpUrl).port), ca.cert);
    await ca.write(dir.path, "server", await ca.server());
    await hub.reloadTls();
    const after = await servedSerial(Number(new URL(httpUrl).port), ca.cert);
    expect(after).not.toBe(before);
    const mqttAfter = await servedSerial(Number(new URL(mqttUrl).port), ca.cert);
    expect(mqttAfter).toBe(after);
    // broken files leave the certificates in use
    await writeFile(files.key, "not a key");
    await expect(hub.reloadTls()).rejects.toMatchObject({ code: "KENSA_ERR_TLS_FILES" });
    expect(await httpsGet(`${httpUrl}/health`, ca.cert)).toBe(200);
  });
});

describe("TLS: required client certificates, bad files, plain listeners", () => {
  let dir: TempDir;
  let ca: TestCertificateAuthority;

  beforeAll(async () => {
    dir = await tempDir();
    ca = await testCertificateAuthority();
  });
  afterAll(async () => dir?.remove());

  it("with clientCertificates required, refuses a device secret and a certificate from another CA", async () => {
    const files = await ca.write(dir.path, "srv", await ca.server());
    const hub = await createHub({
      dataDir: join(dir.path, "required"),
      http: { port: 0 },
      mqtt: { embedded: { port: 0, tls: { ...files, clientCertificates: "required" } } },
      logLevel: "silent",
    });
    try {
      const { mqttUrl } = await hub.start();
      const api = injectClient(hub);
      const p = await api.call(projectRoutes.create, {
        body: { slug: "req", name: "Req", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
      });
      const { secret } = await api.call(fleetRoutes.enroll, { body: { projectId: p.id, id: "cam-3", tags: [] } });
      // the hub's own client (no certificate) is connected: the hub started
      await expect(
        mqttConnect(mqttUrl, { ca: ca.cert, clientId: "cam-3", username: "cam-3", password: secret }),
      ).rejects.toThrow(/Not authorized/i);
      // a certificate with the right CN from a CA the broker does not trust
      const other = await testCertificateAuthority("Other CA");
      const forged = await other.client("cam-3");
      await expect(mqttConnect(mqttUrl, { ca: ca.cert, ...forged, clientId: "cam-3" })).rejects.toThrow(
        /Not authorized/i,
      );
      const issued = await api.call(fleetRoutes.issueCertificate, {
        params: { id: "cam-3" },
        body: { generateKey: true },
      });
      const c = await mqttConnect(mqttUrl, { ca: ca.cert, cert: issued.chain, key: issued.key, clientId: "cam-3" });
      await c.endAsync();
    } finally {
      await hub.close();
    }
  });

  it("stops before listening on a missing or mismatched file, naming the key", async () => {
    const a = await ca.write(dir.path, "a", await ca.server());
    const b = await ca.write(dir.path, "b", await ca.server());
    await expect(
      createHub({
        dataDir: join(dir.path, "bad1"),
        http: { port: 0, tls: { cert: a.cert, key: join(dir.path, "none.key") } },
      }),
    ).rejects.toMatchObject({ code: "KENSA_ERR_TLS_FILES", message: expect.stringContaining("/http/tls/key") });
    await expect(
      createHub({
        dataDir: join(dir.path, "bad2"),
        mqtt: { embedded: { port: 0, tls: { cert: a.cert, key: b.key } } },
      }),
    ).rejects.toMatchObject({
      code: "KENSA_ERR_TLS_FILES",
      message: expect.stringContaining("/mqtt/embedded/tls/key"),
    });
  });

  it("names the listeners other machines reach without TLS", async () => {
    const hub = await createHub({
      dataDir: join(dir.path, "plain"),
      http: { host: "0.0.0.0", port: 0 },
      mqtt: { embedded: { host: "127.0.0.1", port: 0 } },
      logLevel: "silent",
    });
    try {
      await hub.start();
      expect(hub.plainListeners).toEqual(["HTTP on 0.0.0.0"]);
    } finally {
      await hub.close();
    }
  });
});

describe("TLS: the hub's client on an external mqtts:// broker", () => {
  it("trusts the broker's certificate through mqtt.tls.ca", async () => {
    const dir = await tempDir();
    const ca = await testCertificateAuthority("Broker CA");
    const server = await ca.server();
    const aedes = await Aedes.createBroker();
    const broker = createTlsServer({ cert: server.cert, key: server.key }, aedes.handle);
    await new Promise<void>((resolve) => broker.listen(0, "127.0.0.1", resolve));
    const port = (broker.address() as AddressInfo).port;
    const caFile = join(dir.path, "broker-ca.crt");
    await writeFile(caFile, ca.cert);
    const hub = await createHub({
      dataDir: join(dir.path, "hub"),
      http: { port: 0 },
      mqtt: {
        embedded: { enabled: false },
        url: `mqtts://localhost:${port}`,
        tls: { ca: caFile },
        sharedGroup: "",
      },
      logLevel: "silent",
    });
    try {
      await hub.start();
      const health = await hub.app.inject({ method: "GET", url: "/health" });
      expect(health.json()).toMatchObject({ mqtt: "connected" });
      expect(aedes.connectedClients).toBe(1);
    } finally {
      await hub.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      broker.close();
      await dir.remove();
    }
  });
});
