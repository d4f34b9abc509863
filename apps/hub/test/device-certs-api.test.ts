import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { fleetRoutes, topics } from "@kensa/contracts";
import { type TempDir, type TestCertificateAuthority, tempDir, testCertificateAuthority } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeviceCsr, createHub, type Hub } from "../src/index.js";
import { apiCall, closed, mqttConnect } from "./device-certs-fixtures.js";

const issuePath = (id: string) => fleetRoutes.issueCertificate.path.replace(":id", id);
const listPath = (id: string) => fleetRoutes.listCertificates.path.replace(":id", id);
const revokeCertPath = (id: string, serial: string) =>
  fleetRoutes.revokeCertificate.path.replace(":id", id).replace(":serial", serial);

describe("device client certificates through the API", () => {
  let dir: TempDir;
  let ca: TestCertificateAuthority;
  let hub: Hub;
  let mqttUrl: string;
  let projectId: string;

  const enroll = async (id: string, extra: Record<string, unknown> = {}) =>
    apiCall(hub, "POST", fleetRoutes.enroll.path, { projectId, id, tags: [], ...extra });
  /** a CSR made on "the device": its key never reaches the hub */
  const issueFromCsr = async (id: string, cn = id) => {
    const { csr, key } = await createDeviceCsr(cn);
    const res = await apiCall(hub, "POST", issuePath(id), { csr });
    return {
      ...res,
      key,
      chain: res.json.chain as string,
      serial: (res.json.certificate as { serial: string })?.serial,
    };
  };
  const connectWith = (chain: string, key: string, clientId: string) =>
    mqttConnect(mqttUrl, { ca: ca.cert, cert: chain, key, clientId });

  beforeAll(async () => {
    dir = await tempDir();
    ca = await testCertificateAuthority();
    const files = await ca.write(dir.path, "server", await ca.server());
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      http: { port: 0 },
      mqtt: { embedded: { port: 0, tls: { ...files, clientCertificates: "optional" } } },
      logLevel: "silent",
    });
    ({ mqttUrl } = await hub.start());
    const project = await apiCall(hub, "POST", "/api/v1/projects", {
      slug: "certs",
      name: "Certs",
      task: "classification",
      labels: ["ok", "defect"],
      okLabels: ["ok"],
    });
    projectId = project.json.id as string;
    for (const id of ["cam-1", "cam-2", "cam-3"]) expect((await enroll(id)).status).toBe(201);
  });

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("issues a certificate from a CSR that connects over MQTT/TLS without a secret, lists and audits it", async () => {
    const issued = await issueFromCsr("cam-1");
    expect(issued.status).toBe(201);
    expect(issued.json.key).toBeUndefined();
    expect(issued.json.ca).toBe(hub.deviceCa!.certPem);
    const x = new X509Certificate(issued.chain);
    expect(x.subject).toBe("CN=cam-1");
    expect(x.verify(new X509Certificate(hub.deviceCa!.certPem).publicKey)).toBe(true);
    expect(x.serialNumber.toLowerCase()).toBe(issued.serial);
    const c = await connectWith(issued.chain, issued.key, "cam-1");
    await c.publishAsync(topics.presence("cam-1"), JSON.stringify({ v: 1, status: "online" }), { qos: 1 });
    await c.endAsync();

    const list = await apiCall(hub, "GET", listPath("cam-1"));
    expect(list.status).toBe(200);
    expect(list.json.items).toEqual([
      {
        serial: issued.serial,
        deviceId: "cam-1",
        issuedAt: expect.any(String),
        notAfter: new Date(x.validTo).toISOString(),
        revokedAt: null,
      },
    ]);
    const audit = await apiCall(hub, "GET", "/api/v1/audit?action=device.certificate_issue&limit=10");
    expect(audit.json.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: "device.certificate_issue",
          details: expect.objectContaining({ serial: issued.serial, keyMadeByHub: false }),
        }),
      ]),
    );
  });

  it("makes the key pair when asked, and returns its key once", async () => {
    const res = await apiCall(hub, "POST", issuePath("cam-2"), { generateKey: true, days: 30 });
    expect(res.status).toBe(201);
    const { chain, key } = res.json as { chain: string; key: string };
    expect(key).toMatch(/BEGIN PRIVATE KEY/);
    const days = (new Date(new X509Certificate(chain).validTo).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThan(31);
    const c = await connectWith(chain, key, "cam-2");
    await c.endAsync();
  });

  it("refuses a malformed CSR, a bad signature, another device's CN, an unknown or revoked device, with codes", async () => {
    const bad = async (id: string, body: unknown) => {
      const r = await apiCall(hub, "POST", issuePath(id), body);
      return [r.status, r.json.code];
    };
    expect(await bad("cam-1", { csr: "hello" })).toEqual([422, "KENSA_ERR_CSR_INVALID"]);
    expect(
      await bad("cam-1", { csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n" }),
    ).toEqual([422, "KENSA_ERR_CSR_INVALID"]);
    // flip a byte of the signature (the DER's last bytes): the request no longer verifies
    const { csr } = await createDeviceCsr("cam-1");
    const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ""), "base64");
    der[der.length - 2] = (der[der.length - 2] ?? 0) ^ 0xff;
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(await bad("cam-1", { csr: forged })).toEqual([422, "KENSA_ERR_CSR_INVALID"]);
    const wrongCn = await issueFromCsr("cam-1", "cam-2");
    expect([wrongCn.status, wrongCn.json.code]).toEqual([422, "KENSA_ERR_CSR_INVALID"]);
    expect(await bad("cam-1", { csr, generateKey: true })).toEqual([400, "KENSA_ERR_VALIDATION"]);
    expect(await bad("cam-1", {})).toEqual([400, "KENSA_ERR_VALIDATION"]);
    expect(await bad("cam-404", { generateKey: true })).toEqual([404, "KENSA_ERR_DEVICE_NOT_FOUND"]);
    // nothing was recorded by the refusals
    expect((await apiCall(hub, "GET", listPath("cam-1"))).json.items).toHaveLength(1);
  });

  it("refuses a certificate the CA signed that the hub did not record", async () => {
    const direct = await hub.deviceCa!.issue("cam-1");
    await expect(connectWith(direct.cert, direct.key, "cam-1-direct")).rejects.toThrow(/Not authorized/i);
  });

  it("revokes one certificate: it is refused within a second, the device's others still connect", async () => {
    const a = await issueFromCsr("cam-3");
    const b = await issueFromCsr("cam-3");
    const live = await connectWith(a.chain, a.key, "cam-3-a");
    const ended = closed(live);
    const t0 = Date.now();
    const res = await apiCall(hub, "POST", revokeCertPath("cam-3", a.serial.toUpperCase()));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ serial: a.serial, revokedAt: expect.any(String) });
    await expect(connectWith(a.chain, a.key, "cam-3-a")).rejects.toThrow(/Not authorized/i);
    await ended;
    expect(Date.now() - t0).toBeLessThan(1000);
    const other = await connectWith(b.chain, b.key, "cam-3-b");
    await other.endAsync();
    expect((await apiCall(hub, "POST", revokeCertPath("cam-3", "abcdef"))).json.code).toBe(
      "KENSA_ERR_DEVICE_CERTIFICATE_NOT_FOUND",
    );
    // another device's serial is not this device's
    const c2 = (await apiCall(hub, "GET", listPath("cam-2"))).json.items as Array<{ serial: string }>;
    expect((await apiCall(hub, "POST", revokeCertPath("cam-3", c2[0]!.serial))).status).toBe(404);
  });

  it("revoking the device refuses its certificates within a second; rotating its secret does not bring them back", async () => {
    const issued = await issueFromCsr("cam-2");
    const live = await connectWith(issued.chain, issued.key, "cam-2-live");
    const ended = closed(live);
    const t0 = Date.now();
    expect((await apiCall(hub, "POST", fleetRoutes.revoke.path.replace(":id", "cam-2"))).status).toBe(200);
    await expect(connectWith(issued.chain, issued.key, "cam-2-live")).rejects.toThrow(/Not authorized/i);
    await ended;
    expect(Date.now() - t0).toBeLessThan(1000);
    const refused = await apiCall(hub, "POST", issuePath("cam-2"), { generateKey: true });
    expect([refused.status, refused.json.code]).toEqual([409, "KENSA_ERR_DEVICE_REVOKED"]);

    const rotated = await apiCall(hub, "POST", fleetRoutes.rotateSecret.path.replace(":id", "cam-2"));
    expect(rotated.status).toBe(200);
    await expect(connectWith(issued.chain, issued.key, "cam-2-live")).rejects.toThrow(/Not authorized/i);
    const items = (await apiCall(hub, "GET", listPath("cam-2"))).json.items as Array<{ revokedAt: string | null }>;
    expect(items.length).toBe(2);
    expect(items.every((c) => c.revokedAt !== null)).toBe(true);
    // a new certificate after the rotation works
    const fresh = await issueFromCsr("cam-2");
    const c = await connectWith(fresh.chain, fresh.key, "cam-2-fresh");
    await c.endAsync();
  });

  it("rotating an active device's secret revokes its certificates too", async () => {
    const issued = await issueFromCsr("cam-3");
    (await connectWith(issued.chain, issued.key, "cam-3-rot")).end(true);
    await apiCall(hub, "POST", fleetRoutes.rotateSecret.path.replace(":id", "cam-3"));
    await expect(connectWith(issued.chain, issued.key, "cam-3-rot")).rejects.toThrow(/Not authorized/i);
  });

  it("issues one with the enrolment, in either form; a bad CSR enrolls nothing", async () => {
    const made = await enroll("cam-4", { certificate: { generateKey: true } });
    expect(made.status).toBe(201);
    const cert = made.json.certificate as { chain: string; key: string; certificate: { serial: string } };
    expect(typeof made.json.secret).toBe("string");
    (await connectWith(cert.chain, cert.key, "cam-4")).end(true);

    const { csr, key } = await createDeviceCsr("cam-5");
    const fromCsr = await enroll("cam-5", { certificate: { csr } });
    expect(fromCsr.status).toBe(201);
    const c5 = fromCsr.json.certificate as { chain: string; key?: string };
    expect(c5.key).toBeUndefined();
    (await connectWith(c5.chain, key, "cam-5")).end(true);

    const wrong = await createDeviceCsr("cam-7");
    const refused = await enroll("cam-6", { certificate: { csr: wrong.csr } });
    expect([refused.status, refused.json.code]).toEqual([422, "KENSA_ERR_CSR_INVALID"]);
    expect((await apiCall(hub, "GET", fleetRoutes.get.path.replace(":id", "cam-6"))).status).toBe(404);
  });
});

describe("device certificates without a device CA", () => {
  it("refuses issuance with KENSA_ERR_DEVICE_CA_DISABLED while the broker takes no client certificates", async () => {
    const dir = await tempDir();
    const hub = await createHub({
      dataDir: dir.path,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      logLevel: "silent",
    });
    try {
      const project = await apiCall(hub, "POST", "/api/v1/projects", {
        slug: "plain",
        name: "Plain",
        task: "classification",
        labels: ["ok", "defect"],
        okLabels: ["ok"],
      });
      const projectId = project.json.id as string;
      await apiCall(hub, "POST", fleetRoutes.enroll.path, { projectId, id: "cam-1", tags: [] });
      const res = await apiCall(hub, "POST", issuePath("cam-1"), { generateKey: true });
      expect([res.status, res.json.code]).toEqual([409, "KENSA_ERR_DEVICE_CA_DISABLED"]);
      const enrol = await apiCall(hub, "POST", fleetRoutes.enroll.path, {
        projectId,
        id: "cam-2",
        tags: [],
        certificate: { generateKey: true },
      });
      expect([enrol.status, enrol.json.code]).toEqual([409, "KENSA_ERR_DEVICE_CA_DISABLED"]);
      expect((await apiCall(hub, "GET", listPath("cam-1"))).json.items).toEqual([]);
    } finally {
      await hub.close();
      await dir.remove();
    }
  });
});
