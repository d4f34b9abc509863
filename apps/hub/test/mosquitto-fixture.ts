import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { userInfo } from "node:os";
import { delimiter, join } from "node:path";
import { type TempDir, tcpReachable, tempDir, waitFor } from "@kensa/testkit";

/** Where Mosquitto and its dynamic-security plugin are on this machine, or null. */
export function findMosquitto(): { bin: string; plugin: string } | null {
  const bin = onPath("mosquitto") ?? ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"].find((p) => existsSync(p));
  if (!bin) return null;
  const plugin = fromDpkg() ?? fromLibDirs();
  return plugin ? { bin, plugin } : null;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
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
  const port = await freePort();
  const adminUsername = "kensa-admin";
  const adminPassword = randomBytes(12).toString("base64url");
  const dynsecFile = join(dir.path, "dynamic-security.json");
  const confFile = join(dir.path, "mosquitto.conf");
  await writeFile(
    confFile,
    [
      "per_listener_settings false",
      `listener ${port} 127.0.0.1`,
      "allow_anonymous false",
      `plugin ${found.plugin}`,
      `plugin_opt_config_file ${dynsecFile}`,
      "persistence false",
      // when run as root Mosquitto drops to this user: stay the owner of the temp folder
      `user ${userInfo().username}`,
      `log_dest file ${join(dir.path, "mosquitto.log")}`,
      "log_type error",
      "log_type warning",
      "log_type notice",
      "",
    ].join("\n"),
  );
  let child: ChildProcess | null = null;
  const start = async (opts: { wipe?: boolean } = {}) => {
    if (opts.wipe || !existsSync(dynsecFile)) await writeFile(dynsecFile, initialDynsec(adminUsername, adminPassword));
    const proc = spawn(found.bin, ["-c", confFile], { stdio: "ignore" });
    child = proc;
    await waitFor(
      "mosquitto listening",
      async () => proc.exitCode === null && (await tcpReachable("127.0.0.1", port, 200)),
      {
        timeoutMs: 10_000,
      },
    );
  };
  const stop = async () => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    await exited;
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    adminUsername,
    adminPassword,
    dir,
    start,
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
