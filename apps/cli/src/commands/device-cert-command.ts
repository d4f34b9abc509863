import type { IssuedDeviceCertificate } from "@kensa/contracts";
import type { Command } from "commander";
import { intFlag } from "../cli-input.js";
import { hubClientFrom } from "../hub-client.js";

interface CertFlags {
  id: string;
  out: string;
  config?: string;
  dataDir?: string;
  days: number;
  hub?: string;
  token?: string;
}

/**
 * `kensa device certificate`: a device's client certificate for the embedded broker (mutual TLS).
 * With a hub to call (`--hub`, `--token`, or KENSA_HUB_URL) the key pair is made here and only a
 * CSR goes to `POST /api/v1/devices/:id/certificate`; without one, on the hub's machine, it is
 * issued from the device CA's key in the data dir. Either way the hub records it, so the broker
 * takes it and revoking the certificate or the device refuses it.
 */
export function registerDeviceCertCommand(device: Command): void {
  device
    .command("certificate")
    .description(
      "issue a device's client certificate (mutual TLS): through the hub's API when --hub/KENSA_HUB_URL is set, else from the device CA on the hub's machine",
    )
    .requiredOption("--id <id>", "the enrolled device's id (the certificate's CN)")
    .requiredOption("--out <dir>", "where device.crt, device.key (0600) and ca.crt are written")
    .option("--hub <url>", "the hub's URL (default: env KENSA_HUB_URL; without either, issue offline)")
    .option("--token <token>", "an API token with devices:manage (default: env KENSA_ADMIN_TOKEN)")
    .option("-c, --config <file>", "offline: the hub's config (for dataDir, database and mqtt.embedded.tls.deviceCa)")
    .option("--data-dir <dir>", "the hub's data dir (offline; or where the admin token is read)")
    .option("--days <n>", "days the certificate is valid", intFlag("--days", 1, 3650), 825)
    .action(async (o: CertFlags) => {
      const { DEVICE_ID_PATTERN } = await import("@kensa/contracts");
      if (!new RegExp(DEVICE_ID_PATTERN).test(o.id)) throw new Error(`--id: "${o.id}" is not a device id`);
      const online = o.hub ?? o.token ?? process.env.KENSA_HUB_URL;
      const issued = online ? await throughApi(o) : await offline(o);
      await writeAndTell(o.out, o.id, issued);
    });
}

/**
 * For `kensa device enroll --certificate`: a key pair made here and the CSR that goes with the
 * enrolment (CN = the id; none when the hub generates the id).
 */
export async function enrollmentCsr(id: string | undefined): Promise<{ csr: string; key: string }> {
  if (!id) throw new Error("--certificate needs --id: the certificate request names the device");
  const { createDeviceCsr } = await import("@kensa/hub");
  return createDeviceCsr(id);
}

/** Writes the certificate an enrolment returned, with the key made here, and says where. */
export async function writeEnrolledCertificate(
  dir: string,
  deviceId: string,
  issued: IssuedDeviceCertificate,
  key: string,
): Promise<void> {
  const { serial, notAfter } = issued.certificate;
  await writeAndTell(dir, deviceId, { cert: issued.chain, key, ca: issued.ca, serial, notAfter });
}

async function writeAndTell(dir: string, deviceId: string, issued: CertificateFiles): Promise<void> {
  const { writeIssuedCertificate } = await import("@kensa/hub");
  const paths = await writeIssuedCertificate(dir, { deviceId, ...issued });
  console.log(`certificate for ${deviceId} (serial ${issued.serial}, valid until ${issued.notAfter})`);
  console.log(`  ${paths.cert}\n  ${paths.key}\n  ${paths.ca}`);
  console.log(
    `in the device's agent.json: "tls": { "ca": "<the broker's CA>", "cert": "device.crt", "key": "device.key" }`,
  );
}

/** What is written for the device: its certificate (chain), its private key, the device CA. */
export interface CertificateFiles {
  cert: string;
  key: string;
  ca: string;
  serial: string;
  notAfter: string;
}

async function throughApi(o: CertFlags): Promise<CertificateFiles> {
  const [{ fleetRoutes }, { createDeviceCsr }] = await Promise.all([import("@kensa/contracts"), import("@kensa/hub")]);
  const { csr, key } = await createDeviceCsr(o.id);
  const issued = await hubClientFrom(o).call(fleetRoutes.issueCertificate, {
    params: { id: o.id },
    body: { csr, days: o.days },
  });
  const { serial, notAfter } = issued.certificate;
  return { cert: issued.chain, key, ca: issued.ca, serial, notAfter };
}

async function offline(o: CertFlags): Promise<CertificateFiles> {
  const hub = await import("@kensa/hub");
  const config = await hub.loadHubConfig(o.config, process.env, o.dataDir ? { dataDir: o.dataDir } : {});
  return hub.issueDeviceCertificateOffline(config, o.id, o.days);
}
