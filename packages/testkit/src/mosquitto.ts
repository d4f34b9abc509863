import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "./ports.js";
import { tcpReachable } from "./services.js";
import { waitFor } from "./wait-for.js";

/** The mosquitto binary on this machine (PATH, then the Debian package's sbin), or null. */
export function findMosquittoBin(): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, "mosquitto"))) return join(dir, "mosquitto");
  }
  return ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"].find((p) => existsSync(p)) ?? null;
}

export interface MosquittoProcess {
  url: string;
  port: number;
  confFile: string;
  /** the running broker's pid, or null while stopped */
  readonly pid: number | null;
  /** starts the broker (again) on the same port and config; resolves once it listens */
  start(): Promise<void>;
  /** SIGTERM (or the signal given, e.g. SIGKILL for a crash) and waits for the exit */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * A Mosquitto of a test's (or bench's) own on 127.0.0.1: its config in `dir` holds the listener
 * on a free port (or `port`) and `lines`. Never the broker a machine runs on 1883. Run as root,
 * Mosquitto drops to the user named in its config: the current user, so it can read `dir`.
 */
export async function mosquittoProcess(opts: {
  dir: string;
  lines: string[];
  port?: number;
  bin?: string;
}): Promise<MosquittoProcess> {
  const bin = opts.bin ?? findMosquittoBin();
  if (!bin) throw new Error("mosquitto is not installed");
  const port = opts.port ?? (await freePort());
  const confFile = join(opts.dir, `mosquitto-${port}.conf`);
  await writeFile(
    confFile,
    [`listener ${port} 127.0.0.1`, `user ${userInfo().username}`, ...opts.lines, ""].join("\n"),
  );
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const broker: MosquittoProcess = {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    confFile,
    get pid() {
      return child?.pid ?? null;
    },
    async start() {
      if (child) return;
      let stderr = "";
      const proc = spawn(bin, ["-c", confFile], { stdio: ["ignore", "ignore", "pipe"] });
      proc.stderr?.on("data", (c: Buffer) => {
        stderr += c.toString("utf8");
      });
      child = proc;
      exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      try {
        await waitFor(
          `mosquitto on port ${port}`,
          async () => proc.exitCode === null && (await tcpReachable("127.0.0.1", port, 200)),
          { timeoutMs: 10_000 },
        );
      } catch (err) {
        proc.kill("SIGKILL");
        child = null;
        throw new Error(`${(err as Error).message}: ${stderr.trim()}`);
      }
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      const proc = child;
      child = null;
      if (!proc) return;
      if (proc.exitCode === null) proc.kill(signal);
      await exited;
    },
  };
  await broker.start();
  return broker;
}

/** Mosquitto's dynamic-security plugin on this machine (the Debian package lists it), or null. */
export function findDynsecPlugin(): string | null {
  return fromDpkg() ?? fromLibDirs() ?? null;
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

/** The file `mosquitto_ctrl dynsec init` writes: one admin client with the `admin` role, the default ACL access. */
export function dynsecInitialState(username: string, password: string): string {
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
