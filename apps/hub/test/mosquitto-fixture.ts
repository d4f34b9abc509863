import { execFileSync } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findMosquittoBin, mosquittoProcess, type TempDir, tempDir } from "@kensa/testkit";

/** Where Mosquitto and its dynamic-security plugin are on this machine, or null. */
export function findMosquitto(): { bin: string; plugin: string } | null {
  const bin = findMosquittoBin();
  if (!bin) return null;
  const plugin = fromDpkg() ?? fromLibDirs();
  return plugin ? { bin, plugin } : null;
}

/** the Debian/Ubuntu package lists the plugin under its multiarch library folder */
function fromDpkg(): string | undefined {
  try {
    const files = execFileSync("dpkg", ["-L", "mosquitto"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return files.split("\n").find((f) => f.endsWith("/mosquitto_dynamic_security.so") && existsSync(f));
  } catch {
    return undefined;
  }
}

function fromLibDirs(): string | undefined {
  for (const base of ["/usr/lib", "/usr/local/lib", "/usr/lib64"]) {
    const direct = join(base, "mosquitto_dynamic_security.so");
    if (existsSync(direct)) return direct;
    if (!existsSync(base)) continue;
    for (const sub of readdirSync(base)) {
      const nested = join(base, sub, "mosquitto_dynamic_security.so");
      if (existsSync(nested)) return nested;
    }
  }
  return undefined;
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
  await writeFile(dynsecFile, initialDynsec(adminUsername, adminPassword));
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
        await writeFile(dynsecFile, initialDynsec(adminUsername, adminPassword));
      await broker.start();
    },
    stop,
    close: async () => {
      await stop();
      await dir.remove();
    },
  };
}

/** The file `mosquitto_ctrl dynsec init` writes: one admin client with the `admin` role, the default ACL access. */
function initialDynsec(username: string, password: string): string {
  const salt = randomBytes(12);
  const iterations = 101;
  const hash = pbkdf2Sync(password, salt, iterations, 64, "sha512");
  const acl = (acltype: string, topic: string) => ({ acltype, topic, allow: true });
  return JSON.stringify({
    clients: [
      {
        username,
        password: hash.toString("base64"),
        salt: salt.toString("base64"),
        iterations,
        roles: [{ rolename: "admin" }],
      },
    ],
    roles: [
      {
        rolename: "admin",
        acls: [
          acl("publishClientSend", "$CONTROL/dynamic-security/#"),
          acl("publishClientReceive", "$CONTROL/dynamic-security/#"),
          acl("subscribePattern", "$CONTROL/dynamic-security/#"),
          acl("publishClientReceive", "$SYS/#"),
          acl("subscribePattern", "$SYS/#"),
          acl("publishClientReceive", "#"),
          acl("subscribePattern", "#"),
          acl("unsubscribePattern", "#"),
        ],
      },
    ],
    defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
  });
}
