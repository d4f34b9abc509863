import { execFileSync } from "node:child_process";
import { createConnection } from "node:net";

/**
 * Whether tests that need an optional service may skip. CI sets KENSA_REQUIRE_ALL=1 so that a
 * missing service fails the run instead of silently skipping.
 */
export const requireAll = process.env.KENSA_REQUIRE_ALL === "1";

/** Resolves true when something accepts TCP connections on host:port within `timeoutMs`. */
export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export function commandWorks(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore", timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns a reason to skip when `available` is false, or throws when KENSA_REQUIRE_ALL=1.
 * Use: `const skip = needService("PostgreSQL on 127.0.0.1:5432", ok); describe.skipIf(skip)(…)`.
 */
export function needService(name: string, available: boolean): boolean {
  if (available) return false;
  if (requireAll) throw new Error(`${name} is required (KENSA_REQUIRE_ALL=1) but not available`);
  console.warn(`skipping: ${name} is not available`);
  return true;
}
