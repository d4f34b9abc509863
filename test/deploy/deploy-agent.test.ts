// The agent's install files: deploy/Dockerfile.agent (checked, not built: no Docker daemon here),
// the tarball made by deploy/package-agent.mjs and the systemd unit inside it. The tarball is
// made for real, unpacked, and its launcher run with the unit's ExecStart flags.
import { execFile } from "node:child_process";
import { existsSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { agentServiceEnv, loadAgentConfig } from "@kensa/agent";
import { agentStatusRoutes } from "@kensa/contracts";
import { repoRoot, type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  agentHelp,
  envOf,
  execForm,
  flagsOf,
  flagValue,
  lastOf,
  parseDockerfile,
  parseUnit,
  readDeploy,
  unitEnv,
} from "./deploy-parse.js";

const run = promisify(execFile);
const agentDocker = parseDockerfile(readDeploy("Dockerfile.agent"));
const unit = parseUnit(readDeploy("kensa-agent.service"));
const service = unit.Service ?? {};
const one = (key: string) => service[key]?.[0] ?? "";
const statusPortDefault = loadAgentConfig(
  { deviceId: "d1", secret: "s", hubUrl: "http://h:1", mqttUrl: "mqtt://h:2" },
  {},
  {},
).status.port;

describe("deploy/Dockerfile.agent", () => {
  it("copies paths that exist and builds the bundle its entrypoint runs", () => {
    for (const c of agentDocker.filter((i) => i.op === "COPY" && !i.args.startsWith("--from"))) {
      for (const s of c.args.split(/\s+/).slice(0, -1)) expect(existsSync(join(repoRoot, s)), `COPY ${s}`).toBe(true);
    }
    const runs = agentDocker.filter((i) => i.op === "RUN").map((i) => i.args);
    const build = runs.find((r) => r.includes("npm run build -w @kensa/agent"));
    expect(build).toBeDefined();
    const pkg = JSON.parse(readFileSync(join(repoRoot, "apps/agent/package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.build).toBe("node build.mjs");
    const entry = execForm(lastOf(agentDocker, "ENTRYPOINT", "agent")?.args ?? "");
    const workdir = lastOf(agentDocker, "WORKDIR", "agent")?.args ?? "";
    const bundle = (entry[1] ?? "").slice(workdir.length + 1);
    expect(bundle).toBe("apps/agent/dist/kensa-agent.mjs");
    const outfile = /outfile: `\$\{here\}\/(\S+)`/.exec(readFileSync(join(repoRoot, "apps/agent/build.mjs"), "utf8"));
    expect(`apps/agent/${outfile?.[1]}`).toBe(bundle);
    expect(envOf(agentDocker, ["build"]).ONNXRUNTIME_NODE_INSTALL).toBe("skip");
    for (const p of ["python3", "make", "g++"]) expect(runs.find((r) => r.includes("g++"))?.split(/\s+/)).toContain(p);
  });

  it("runs with flags the agent has, as a non-root user, with the service unit's memory settings", async () => {
    const cmd = execForm(lastOf(agentDocker, "CMD", "agent")?.args ?? "");
    const known = await agentHelp();
    for (const f of flagsOf(cmd)) expect(known, `kensa-agent ${f}`).toContain(f);
    expect(execForm(lastOf(agentDocker, "VOLUME", "agent")?.args ?? "")).toEqual([flagValue(cmd, "--data-dir")]);
    expect(lastOf(agentDocker, "USER", "agent")?.args).not.toMatch(/^(root|0)$/);
    const env = envOf(agentDocker, ["agent"]);
    for (const [k, v] of Object.entries(agentServiceEnv)) expect(env[k], k).toBe(v);
  });

  it("exposes and health-checks the status server on its default port", () => {
    expect(Number(lastOf(agentDocker, "EXPOSE", "agent")?.args)).toBe(statusPortDefault);
    const check = execForm(lastOf(agentDocker, "HEALTHCHECK", "agent")?.args ?? "").join(" ");
    const url = new URL(/fetch\('([^']+)'\)/.exec(check)?.[1] ?? "");
    expect(url.pathname).toBe(agentStatusRoutes.health.path);
    expect(Number(url.port)).toBe(statusPortDefault);
  });
});

describe("deploy/kensa-agent.service", () => {
  it("restarts always, as a dedicated user, with the memory settings docs/agent.md measures", () => {
    expect(one("Restart")).toBe("always");
    expect(one("User")).toMatch(/^[a-z][a-z0-9-]*$/);
    expect(one("User")).not.toBe("root");
    expect(unitEnv(service.Environment ?? [])).toEqual(agentServiceEnv);
    const documented = /```ini\n([\s\S]*?)```/.exec(readFileSync(join(repoRoot, "docs/agent.md"), "utf8"))?.[1] ?? "";
    expect(unitEnv(parseUnit(documented).Service?.Environment ?? [])).toEqual(agentServiceEnv);
    expect(one("EnvironmentFile")).toBe(parseUnit(documented).Service?.EnvironmentFile?.[0]);
    expect(one("KillSignal")).toBe("SIGTERM");
    expect(unit.Install?.WantedBy).toEqual(["multi-user.target"]);
  });

  it("uses only flags the agent has; its data dir is systemd's StateDirectory", async () => {
    const argv = one("ExecStart").split(/\s+/);
    expect(argv[0]).toBe("/usr/bin/node");
    const known = await agentHelp();
    for (const f of flagsOf(argv)) expect(known, `kensa-agent ${f}`).toContain(f);
    expect(flagValue(argv, "--data-dir")).toBe(`/var/lib/${one("StateDirectory")}`);
  });
});

describe("the agent tarball (deploy/package-agent.mjs)", () => {
  let dir: TempDir;
  let unpacked: string;
  const prefix = "/opt/kensa-agent/";

  beforeAll(async () => {
    dir = await tempDir("kensa-agent-pack-");
    const { stdout } = await run(process.execPath, [join(repoRoot, "deploy/package-agent.mjs"), "--out", dir.path], {
      cwd: repoRoot,
      timeout: 120_000,
    });
    const tarball = stdout.trim();
    expect(tarball).toBe(join(dir.path, "kensa-agent-0.1.0.tar.gz"));
    unpacked = join(dir.path, "kensa-agent");
    await run("tar", ["-xzf", tarball, "-C", dir.path]);
  }, 180_000);
  afterAll(() => dir?.remove());

  it("holds the launcher, the bundle, the unit, an example config and install steps that match the unit", () => {
    for (const f of ["bin/kensa-agent.mjs", "bundle-freshness.mjs", "dist/kensa-agent.mjs", "package.json"]) {
      expect(existsSync(join(unpacked, f)), f).toBe(true);
    }
    expect(readFileSync(join(unpacked, "kensa-agent.service"), "utf8")).toBe(readDeploy("kensa-agent.service"));
    const argv = one("ExecStart").split(/\s+/);
    expect(argv[1]?.startsWith(prefix)).toBe(true);
    expect(existsSync(join(unpacked, (argv[1] ?? "").slice(prefix.length))), argv[1]).toBe(true);
    const install = readFileSync(join(unpacked, "INSTALL.md"), "utf8");
    expect(install).toContain(`-C ${prefix.slice(0, -1)} --strip-components=1`);
    expect(install).toContain(`useradd --system --home-dir /var/lib/${one("StateDirectory")}`);
    expect(install).toMatch(new RegExp(`useradd .* ${one("User")}\\n`));
    expect(install).toContain(`cp agent.example.json ${flagValue(argv, "--config")}`);
    expect(install).toContain(`install -m 600 /dev/null ${one("EnvironmentFile").replace(/^-/, "")}`);
  });

  it("names every npm package the bundle imports, declared by the agent or the packages it bundles", () => {
    const pkg = JSON.parse(readFileSync(join(unpacked, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const declared = new Set(
      ["apps/agent", "packages/contracts", "packages/client", "packages/vision", "packages/synth"].flatMap((p) =>
        Object.keys(
          (JSON.parse(readFileSync(join(repoRoot, p, "package.json"), "utf8")) as { dependencies?: object })
            .dependencies ?? {},
        ),
      ),
    );
    expect(Object.keys(pkg.dependencies)).toEqual(
      expect.arrayContaining(["better-sqlite3", "onnxruntime-node", "sharp", "mqtt"]),
    );
    for (const name of Object.keys(pkg.dependencies)) expect(declared, name).toContain(name);
  });

  it("runs from the unpacked tarball with the unit's ExecStart flags", async () => {
    // the device's `npm install` stands in for this link to the repository's node_modules
    symlinkSync(join(repoRoot, "node_modules"), join(unpacked, "node_modules"));
    const argv = one("ExecStart").split(/\s+/).slice(1);
    const local = argv.map((a) =>
      a.startsWith(prefix)
        ? join(unpacked, a.slice(prefix.length))
        : a === flagValue(argv, "--config")
          ? join(unpacked, "agent.example.json")
          : a === flagValue(argv, "--data-dir")
            ? join(dir.path, "data")
            : a,
    );
    const env = { ...process.env, KENSA_DEVICE_SECRET: "secret-1" };
    const ok = await run(process.execPath, [...local, "--validate-config"], { env, timeout: 60_000 });
    expect(ok.stdout.trim()).toBe("OK");
    // a flag the agent does not have is refused: the check above would catch a renamed one
    const bad = await run(process.execPath, [...local, "--no-such-flag"], { env, timeout: 60_000 }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((bad as { code: number }).code).toBe(2);
    const example = loadAgentConfig(join(unpacked, "agent.example.json"), {}, { KENSA_DEVICE_SECRET: "s" });
    expect(example.status.port).toBe(statusPortDefault);
    expect(example.dataDir).toBe(flagValue(argv, "--data-dir"));
  });
});
