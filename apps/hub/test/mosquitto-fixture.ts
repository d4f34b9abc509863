import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  dynsecInitialState,
  findDynsecPlugin,
  findMosquittoBin,
  mosquittoProcess,
  type TempDir,
  tempDir,
} from "@kensa/testkit";

/** Where Mosquitto and its dynamic-security plugin are on this machine, or null. */
export function findMosquitto(): { bin: string; plugin: string } | null {
  const bin = findMosquittoBin();
  if (!bin) return null;
  const plugin = findDynsecPlugin();
  return plugin ? { bin, plugin } : null;
}

export interface Mosquitto {
  url: string;
  port: number;
  adminUsername: string;
  adminPassword: string;
  dir: TempDir;
  /** stops the broker (SIGTERM, then waits for it to exit) */
  stop(): Promise<void>;
  /** starts it again on the same port; `wipe` first replaces its dynsec state by a fresh one (admin only) */
  start(opts?: { wipe?: boolean }): Promise<void>;
  /** stops it and removes its folder */
  close(): Promise<void>;
}

/**
 * A Mosquitto of this test's own: a free port on 127.0.0.1, a temp folder with its config and a
 * dynsec file holding one admin (written as `mosquitto_ctrl dynsec init` would), no persistence.
 */
export async function startMosquitto(found: { bin: string; plugin: string }): Promise<Mosquitto> {
  const dir = await tempDir("kensa-mosquitto-");
  const adminUsername = "kensa-admin";
  const adminPassword = randomBytes(12).toString("base64url");
  const dynsecFile = join(dir.path, "dynamic-security.json");
  await writeFile(dynsecFile, dynsecInitialState(adminUsername, adminPassword));
  const broker = await mosquittoProcess({
    dir: dir.path,
    bin: found.bin,
    lines: [
      "allow_anonymous false",
      `plugin ${found.plugin}`,
      `plugin_opt_config_file ${dynsecFile}`,
      "persistence false",
      `log_dest file ${join(dir.path, "mosquitto.log")}`,
      "log_type error",
      "log_type warning",
      "log_type notice",
    ],
  });
  const stop = () => broker.stop();
  return {
    url: broker.url,
    port: broker.port,
    adminUsername,
    adminPassword,
    dir,
    start: async (opts = {}) => {
      if (opts.wipe || !existsSync(dynsecFile))
        await writeFile(dynsecFile, dynsecInitialState(adminUsername, adminPassword));
      await broker.start();
    },
    stop,
    close: async () => {
      await stop();
      await dir.remove();
    },
  };
}
