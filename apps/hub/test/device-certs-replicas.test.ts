import { join } from "node:path";
import { fleetRoutes } from "@kensa/contracts";
import { type TempDir, type TestCertificateAuthority, tempDir, testCertificateAuthority } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeviceCsr, createHub, DeviceCertificateAuthority, type Hub } from "../src/index.js";
import { apiCall, closed, mqttConnect } from "./device-certs-fixtures.js";
import { backends } from "./helpers.js";

const postgres = (await backends("device-certs-replicas")).find((b) => b.name === "postgres");

/**
 * Two replicas on one PostgreSQL, each with its own embedded broker and the same device CA: a
 * certificate revoked on A is refused by B's broker at once, although B had accepted (and
 * cached) it, and B ends the session it holds.
 */
describe.skipIf(!postgres)("device certificates on hub replicas", () => {
  let dir: TempDir;
  let ca: TestCertificateAuthority;
  let a: Hub;
  let b: Hub;
  let bMqtt: string;

  const replica = async (name: string, files: { cert: string; key: string }, deviceCa: { cert: string; key: string }) =>
    createHub({
      dataDir: join(dir.path, name),
      database: postgres!.database("shared"),
      // replicas sign bundles with one key (docs/replicas.md); here their data dirs are apart
      signing: { keyFile: join(dir.path, "bundle-signing.key") },
      http: { port: 0 },
      mqtt: { embedded: { port: 0, tls: { ...files, clientCertificates: "optional", deviceCa } } },
      logLevel: "silent",
    });

  beforeAll(async () => {
    dir = await tempDir();
    ca = await testCertificateAuthority();
    const files = await ca.write(dir.path, "server", await ca.server());
    const deviceCa = { cert: join(dir.path, "device-ca", "ca.pem"), key: join(dir.path, "device-ca", "ca-key.pem") };
    await DeviceCertificateAuthority.open(deviceCa, { create: true });
    a = await replica("a", files, deviceCa);
    b = await replica("b", files, deviceCa);
    await a.start();
    ({ mqttUrl: bMqtt } = await b.start());
    const project = await apiCall(a, "POST", "/api/v1/projects", {
      slug: "replica-certs",
      name: "Replica certs",
      task: "classification",
      labels: ["ok", "defect"],
      okLabels: ["ok"],
    });
    await apiCall(a, "POST", fleetRoutes.enroll.path, { projectId: project.json.id, id: "rep-1", tags: [] });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await postgres?.cleanup();
    await dir?.remove();
  });

  it("revoking a certificate on A makes B refuse it within a second and end B's session", async () => {
    const { csr, key } = await createDeviceCsr("rep-1");
    const issued = await apiCall(a, "POST", fleetRoutes.issueCertificate.path.replace(":id", "rep-1"), { csr });
    expect(issued.status).toBe(201);
    const chain = issued.json.chain as string;
    const serial = (issued.json.certificate as { serial: string }).serial;
    const opts = { ca: ca.cert, cert: chain, key, clientId: "rep-1" };
    // B accepts it (and caches the acceptance); its list shows what A issued
    (await mqttConnect(bMqtt, { ...opts, clientId: "rep-1-probe" })).end(true);
    const listed = await apiCall(b, "GET", fleetRoutes.listCertificates.path.replace(":id", "rep-1"));
    expect(listed.json.items).toEqual([expect.objectContaining({ serial, revokedAt: null })]);
    const live = await mqttConnect(bMqtt, opts);
    const ended = closed(live);

    const t0 = Date.now();
    const revoked = await apiCall(
      a,
      "POST",
      fleetRoutes.revokeCertificate.path.replace(":id", "rep-1").replace(":serial", serial),
    );
    expect(revoked.status).toBe(200);
    await ended;
    // NOTIFY reaches B asynchronously: poll briefly, then it must stay refused
    let refusedAt = 0;
    while (Date.now() - t0 < 1000) {
      const ok = await mqttConnect(bMqtt, { ...opts, clientId: "rep-1-again" }).then(
        (c) => {
          c.end(true);
          return true;
        },
        () => false,
      );
      if (!ok) {
        refusedAt = Date.now();
        break;
      }
    }
    expect(refusedAt, "B still took the revoked certificate after a second").toBeGreaterThan(0);
    await expect(mqttConnect(bMqtt, { ...opts, clientId: "rep-1-again" })).rejects.toThrow(/Not authorized/i);
  });
});
