import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, tempDir } from "@kensa/testkit";
import { describe, expect, it } from "vitest";
// @ts-expect-error plain JavaScript module shared with the launcher and bootstrap
import { bundleIsFresh } from "../bundle-freshness.mjs";
import { agentServiceEnv } from "../src/service-env.js";

// The bundle is what a device runs (docs/agent.md): it must load every module, native addons
// included, and behave like the sources.
describe("the bundled agent (dist/kensa-agent.mjs)", () => {
  it("builds, loads its dependencies and validates a config like the sources do", async () => {
    const build = spawnSync(process.execPath, ["apps/agent/build.mjs"], { cwd: repoRoot, encoding: "utf8" });
    expect(build.status, build.stderr).toBe(0);
    const bundle = join(repoRoot, "apps/agent/dist/kensa-agent.mjs");
    expect(existsSync(bundle)).toBe(true);
    const dir = await tempDir();
    try {
      const base = {
        deviceId: "cam-1",
        hubUrl: "http://127.0.0.1:1",
        mqttUrl: "mqtt://127.0.0.1:1",
        dataDir: dir.path,
      };
      const good = join(dir.path, "good.json");
      const bad = join(dir.path, "bad.json");
      writeFileSync(good, JSON.stringify({ ...base, sources: [{ id: "cam", type: "synthetic" }] }));
      writeFileSync(bad, JSON.stringify({ ...base, sources: [{ id: "cam", type: "synthetic", fps: -1 }] }));
      const run = (entry: string, file: string) =>
        spawnSync(process.execPath, [entry, "--config", file, "--validate-config"], {
          cwd: repoRoot,
          encoding: "utf8",
          env: { ...process.env, KENSA_DEVICE_SECRET: "s3cret" },
        });
      for (const entry of [bundle, join(repoRoot, "apps/agent/bin/kensa-agent.mjs")]) {
        const ok = run(entry, good);
        expect(ok.status, ok.stderr).toBe(0);
        expect(ok.stdout.trim()).toBe("OK");
        const ko = run(entry, bad);
        expect(ko.status).toBe(1);
        expect(ko.stderr).toContain("/sources/0/fps");
      }
      // ES modules evaluate their static imports first: a run proves sharp, ONNX Runtime,
      // better-sqlite3 and mqtt resolved from the bundle
      const text = readFileSync(bundle, "utf8");
      for (const dep of ["sharp", "onnxruntime-node", "better-sqlite3", "mqtt"])
        expect(text).toContain(`from "${dep}"`);
    } finally {
      await dir.remove();
    }
  }, 60_000);

  it("the bundle counts as stale once a source it bundles is newer, and fresh again after a build", () => {
    const build = spawnSync(process.execPath, ["apps/agent/build.mjs"], { cwd: repoRoot, encoding: "utf8" });
    expect(build.status, build.stderr).toBe(0);
    expect(bundleIsFresh()).toBe(true);
    const source = join(repoRoot, "packages/vision/src/index.ts");
    const { atime, mtime } = statSync(source);
    try {
      utimesSync(source, atime, new Date(Date.now() + 60_000));
      expect(bundleIsFresh()).toBe(false);
    } finally {
      utimesSync(source, atime, mtime);
    }
    expect(bundleIsFresh()).toBe(true);
  });

  it("docs/agent.md's service unit sets exactly the agent's service environment", () => {
    const doc = readFileSync(join(repoRoot, "docs/agent.md"), "utf8");
    const line = /^Environment=(.+)$/m.exec(doc)?.[1] ?? "";
    const documented = Object.fromEntries(
      line.split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
    expect(documented).toEqual(agentServiceEnv);
  });
});
