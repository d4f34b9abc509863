// Installs dependencies when they are missing or stale, so `npm start` and `npm test` work on a
// fresh clone. Plain JavaScript on purpose: it runs before tsx exists.
import { execSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const lock = join(root, "package-lock.json");
const stamp = join(root, "node_modules", ".kensa-install-stamp");
const want = existsSync(lock) ? createHash("sha256").update(readFileSync(lock)).digest("hex") : "";
const have = existsSync(stamp) ? readFileSync(stamp, "utf8").trim() : null;

if (have !== want || want === "") {
  // onnxruntime-node's postinstall downloads optional GPU binaries from a host that offline and
  // firewalled machines cannot reach; the CPU binaries it needs ship inside the npm package.
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip", ONNXRUNTIME_NODE_INSTALL_CUDA: "skip" };
  // `npm install` rather than `npm ci`: npm 11 leaves optional per-platform packages of some
  // dependencies (biome, rollup) out of the lock file and `npm ci` then refuses it. The lock
  // still pins every version that is installed.
  const cmd = existsSync(lock) ? "npm install --no-save --no-audit --no-fund" : "npm install --no-audit --no-fund";
  process.stderr.write(`kensa: installing dependencies (${cmd})\n`);
  execSync(cmd, { cwd: root, stdio: "inherit", env });
  const now = existsSync(lock) ? createHash("sha256").update(readFileSync(lock)).digest("hex") : "";
  writeFileSync(stamp, `${now}\n`);
}

// The hub serves the console from apps/web/dist: build it when it is missing or older than its
// sources, so `npm start` shows the console on a fresh clone.
const { bundleIsFresh, newestMtime } = await import("../apps/agent/bundle-freshness.mjs");
const web = join(root, "apps", "web");
const built = join(web, "dist", "index.html");
if (existsSync(join(web, "src"))) {
  const sources = Math.max(newestMtime(join(web, "src")), statSync(join(web, "package.json")).mtimeMs);
  if (!existsSync(built) || statSync(built).mtimeMs < sources) {
    process.stderr.write("kensa: building the web console (apps/web)\n");
    execSync("npm run build -w @kensa/web", { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  }
}

// Devices run the agent bundled into plain JavaScript (apps/agent/dist, see apps/agent/build.mjs);
// rebuild it when a source it bundles changed, so the bench and `kensa-agent` run current code.
if (existsSync(join(root, "apps", "agent", "src")) && !bundleIsFresh()) {
  process.stderr.write("kensa: bundling the agent (apps/agent/dist)\n");
  execSync("npm run build -w @kensa/agent", { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
}
