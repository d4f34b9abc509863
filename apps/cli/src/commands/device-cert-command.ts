import type { Command } from "commander";

/**
 * `kensa device certificate`: issues a device's client certificate from the hub's device CA,
 * on the hub's machine (the CA's key never leaves it). The broker checks at every connection
 * that the device is enrolled and not revoked, so a certificate for a revoked device is refused.
 */
export function registerDeviceCertCommand(device: Command): void {
  device
    .command("certificate")
    .description(
      "issue a device's client certificate (mutual TLS) from the hub's device CA; run it on the hub's machine",
    )
    .requiredOption("--id <id>", "the enrolled device's id (the certificate's CN)")
    .requiredOption("--out <dir>", "where device.crt, device.key (0600) and ca.crt are written")
    .option("-c, --config <file>", "the hub's config (for dataDir and mqtt.embedded.tls.deviceCa)")
    .option("--data-dir <dir>", "the hub's data dir")
    .option("--days <n>", "days the certificate is valid", (v) => Number(v), 825)
    .action(async (o: { id: string; out: string; config?: string; dataDir?: string; days: number }) => {
      const { DEVICE_ID_PATTERN } = await import("@kensa/contracts");
      if (!new RegExp(DEVICE_ID_PATTERN).test(o.id)) throw new Error(`--id: "${o.id}" is not a device id`);
      const hub = await import("@kensa/hub");
      const config = await hub.loadHubConfig(o.config, process.env, o.dataDir ? { dataDir: o.dataDir } : {});
      const files = hub.deviceCaFiles(config);
      const ca = await hub.DeviceCertificateAuthority.open(files, { create: !config.mqtt.embedded.tls?.deviceCa });
      const issued = await ca.issue(o.id, o.days);
      const paths = await hub.writeIssuedCertificate(o.out, issued);
      console.log(`certificate for ${o.id} (serial ${issued.serial}, valid until ${issued.notAfter})`);
      console.log(`  ${paths.cert}\n  ${paths.key}\n  ${paths.ca}`);
      console.log(
        `in the device's agent.json: "tls": { "ca": "<the broker's CA>", "cert": "device.crt", "key": "device.key" }`,
      );
    });
}
