#!/usr/bin/env node
// The agent's launcher (docs/bundles.md, "Agent updates"), what systemd runs: starts the agent
// release the device committed to (<dataDir>/agent/current), else the agent installed beside this
// file (bin/kensa-agent.mjs), with the arguments it was given. When the agent installs a release
// it writes <dataDir>/agent/next and exits with code 75; the launcher then starts that release on
// trial: it must send {type: "kensa-agent-healthy"} over IPC within KENSA_AGENT_TRIAL_MS (120 s)
// to become `current`. A trial that exits first or stays silent is stopped and recorded in
// <dataDir>/agent/failed, and the previous version starts again. Any other exit of the agent ends
// the launcher with the same code (systemd's Restart=always starts it again).
//
// Plain JavaScript with no imports beyond Node.js, kept small and stable: a release replaces the
// agent, never this file, so a broken release can never take the way back with it.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const here = import.meta.dirname;
const args = process.argv.slice(2);
const restartExitCode = 75;
const trialMs = Number(process.env.KENSA_AGENT_TRIAL_MS) || 120_000;
const stopGraceMs = 15_000;

const log = (level, msg, fields = {}) =>
  process.stderr.write(
    `${JSON.stringify({ level, msg, component: "launcher", ...fields, ts: new Date().toISOString() })}\n`,
  );

/** --data-dir, else the config file's dataDir (or its default), as the agent resolves it. */
function dataDirOf(argv) {
  const flag = (name) => {
    const i = argv.indexOf(name);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  };
  const dir = flag("--data-dir") ?? process.env.KENSA_AGENT_DATA_DIR;
  if (dir) return resolve(dir);
  const config = flag("--config");
  if (!config) return null;
  try {
    const c = JSON.parse(readFileSync(config, "utf8"));
    const deviceId = flag("--device") ?? c.deviceId;
    return resolve(c.dataDir ?? `.kensa/agent-${deviceId}`);
  } catch {
    return null;
  }
}

const dataDir = dataDirOf(args);
const stateDir = dataDir ? join(dataDir, "agent") : null;
const file = (name) => join(stateDir, name);

function readJson(name) {
  try {
    return JSON.parse(readFileSync(file(name), "utf8"));
  } catch {
    return null;
  }
}

function writeJson(name, value) {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(`${file(name)}.tmp`, `${JSON.stringify(value)}\n`);
  renameSync(`${file(name)}.tmp`, file(name));
}

const entryOf = (version, entry) => join(stateDir, "releases", version, entry ?? "dist/kensa-agent.mjs");

// A release's bare imports (sharp, mqtt, onnxruntime-node, …) resolve from this launcher's
// node_modules when the release directory has none of its own.
const hooks = `const parent = ${JSON.stringify(pathToFileURL(join(here, "launcher.mjs")).href)};
export async function resolve(spec, ctx, next) {
  try { return await next(spec, ctx); } catch (err) {
    if (err?.code !== "ERR_MODULE_NOT_FOUND" || /^(\\.|\\/|node:|file:|data:)/.test(spec)) throw err;
    return next(spec, { ...ctx, parentURL: parent });
  }
}`;
const register = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
const registerUrl = `data:text/javascript,${encodeURIComponent(register)}`;

let child = null;
let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    stopping = true;
    if (child) child.kill(signal);
    else process.exit(0);
  });
}

/** Runs one version (null: the agent beside this file); resolves once it exits. */
function run(release, trial) {
  const entry = release
    ? ["--import", registerUrl, entryOf(release.version, release.entry)]
    : [join(here, "bin", "kensa-agent.mjs")];
  const env = { ...process.env, ...(stateDir ? { KENSA_AGENT_STATE_DIR: stateDir } : {}) };
  if (trial) env.KENSA_AGENT_TRIAL = release.version;
  else delete env.KENSA_AGENT_TRIAL;
  log("info", "starting the agent", { version: release?.version ?? "installed", trial });
  child = spawn(process.execPath, [...entry, ...args], { env, stdio: ["inherit", "inherit", "inherit", "ipc"] });
  return new Promise((done) => {
    let healthy = false;
    let reason = null;
    let timer = null;
    if (trial) {
      timer = setTimeout(() => {
        reason = `not healthy within ${trialMs} ms`;
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), stopGraceMs).unref();
      }, trialMs);
    }
    child.on("message", (m) => {
      if (!trial || healthy || m?.type !== "kensa-agent-healthy") return;
      healthy = true;
      clearTimeout(timer);
      writeJson("current", { version: release.version, entry: release.entry });
      rmSync(file("trial"), { force: true });
      rmSync(file("failed"), { force: true });
      log("info", "agent release committed", { version: release.version });
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      child = null;
      done({
        code: code ?? (signal ? 128 : 1),
        healthy,
        reason: reason ?? `exited (${signal ?? `code ${code}`}) before reporting healthy`,
      });
    });
  });
}

/** The committed release, when its files are still there. */
function current() {
  const c = stateDir ? readJson("current") : null;
  return c?.version && existsSync(entryOf(c.version, c.entry)) ? c : null;
}

if (stateDir) {
  // a trial cut short by a power loss or a killed launcher never committed: it failed
  const cut = readJson("trial");
  if (cut?.version) {
    writeJson("failed", {
      version: cut.version,
      reason: "the device restarted during the trial",
      at: new Date().toISOString(),
    });
    rmSync(file("trial"), { force: true });
  }
}

for (;;) {
  const next = stateDir ? readJson("next") : null;
  if (stateDir) rmSync(file("next"), { force: true });
  const trial = next?.version && existsSync(entryOf(next.version, next.entry)) ? next : null;
  if (trial) writeJson("trial", { version: trial.version, previous: current()?.version ?? null });
  const release = trial ?? current();
  const result = await run(release, Boolean(trial));
  if (stopping) process.exit(result.code);
  if (trial && !result.healthy) {
    log("error", "agent release failed its trial; going back", { version: trial.version, reason: result.reason });
    writeJson("failed", { version: trial.version, reason: result.reason, at: new Date().toISOString() });
    rmSync(file("trial"), { force: true });
    continue;
  }
  if (result.code === restartExitCode) continue;
  process.exit(result.code);
}
