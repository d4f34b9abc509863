import { execFile } from "node:child_process";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { fleetRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import {
  repoRoot,
  type TempDir,
  type TestCertificateAuthority,
  tempDir,
  testCertificateAuthority,
} from "@kensa/testkit";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ADMIN = "cli-device-cert-admin-token-0123";

/** The real `kensa` command in a child process (the hub in this process answers it). */
function kensa(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "apps/cli/src/main.ts", ...args],
      { cwd: repoRoot, encoding: "utf8", env: { ...process.env, KENSA_HUB_URL: "", KENSA_ADMIN_TOKEN: "", ...env } },
      (err, stdout, stderr) =>
        resolve({
          status: err ? ((err as { code?: number }).code ?? 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
  });
}

describe("kensa device certificate / enroll --certificate through the hub's API", () => {
  let dir: TempDir;
  let ca: TestCertificateAuthority;
  let hub: Hub;
  let httpUrl: string;
  let mqttUrl: string;
  let projectId: string;

  const inject = async (method: "GET" | "POST", url: string, payload?: Record<string, unknown>) =>
    (
      await hub.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${ADMIN}` },
        ...(payload ? { payload } : {}),
      })
    ).json();
  /** Connects with the files the CLI wrote; resolves once the broker took them. */
  const connectWith = async (out: string, clientId: string) => {
    const [cert, key] = await Promise.all([readFile(join(out, "device.crt")), readFile(join(out, "device.key"))]);
    const c = await mqtt.connectAsync(mqttUrl, {
      ca: ca.cert,
      cert,
      key,
      clientId,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    await c.endAsync();
    return { cert: cert.toString(), key: key.toString() };
  };

  beforeAll(async () => {
    dir = await tempDir();
    ca = await testCertificateAuthority();
    const files = await ca.write(dir.path, "server", await ca.server());
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      adminToken: ADMIN,
      http: { port: 0 },
      mqtt: { embedded: { port: 0, tls: { ...files, clientCertificates: "optional" } } },
      logLevel: "silent",
    });
    ({ httpUrl, mqttUrl } = await hub.start());
    projectId = (
      await inject("POST", "/api/v1/projects", {
        slug: "cli-certs",
        name: "CLI certs",
        task: "classification",
        labels: ["ok", "defect"],
        okLabels: ["ok"],
      })
    ).id;
  });

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("makes the key locally, sends a CSR, writes files the broker takes, and the hub records the serial", async () => {
    await inject("POST", fleetRoutes.enroll.path, { projectId, id: "cli-cam-1", tags: [] });
    const out = join(dir.path, "cli-cam-1");
    const run = await kensa(
      { KENSA_HUB_URL: httpUrl, KENSA_ADMIN_TOKEN: ADMIN },
      "device",
      "certificate",
      "--id",
      "cli-cam-1",
      "--out",
      out,
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect((await stat(join(out, "device.key"))).mode & 0o777).toBe(0o600);
    const { cert, key } = await connectWith(out, "cli-cam-1");
    const x = new X509Certificate(cert);
    // the certificate is over the key the CLI made (the hub never saw it)
    expect(x.publicKey.export({ type: "spki", format: "pem" })).toBe(
      createPublicKey(createPrivateKey(key)).export({ type: "spki", format: "pem" }),
    );
    const listed = await inject("GET", fleetRoutes.listCertificates.path.replace(":id", "cli-cam-1"));
    expect(listed.items.map((c: { serial: string }) => c.serial)).toEqual([x.serialNumber.toLowerCase()]);
    expect(run.stdout).toContain(`serial ${x.serialNumber.toLowerCase()}`);
  }, 60_000);

  it("enrolls with a certificate from a CSR made by the CLI", async () => {
    const out = join(dir.path, "cli-cam-2");
    const run = await kensa(
      {},
      ...["device", "enroll", "--hub", httpUrl, "--token", ADMIN, "--project", projectId],
      ...["--id", "cli-cam-2", "--certificate", out],
    );
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("device cli-cam-2 enrolled");
    await connectWith(out, "cli-cam-2");
    const refused = await kensa(
      {},
      "device",
      "enroll",
      "--hub",
      httpUrl,
      "--token",
      ADMIN,
      "--project",
      projectId,
      "--certificate",
      out,
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("--certificate needs --id");
  }, 60_000);
});
