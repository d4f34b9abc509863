import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { isKensaError } from "@kensa/contracts";
import { repoRoot, tempDir } from "@kensa/testkit";
import { describe, expect, it } from "vitest";
import { loadAgentConfig } from "../src/config.js";

const base = {
  deviceId: "cam-1",
  secret: "s3cret",
  hubUrl: "http://127.0.0.1:8080",
  mqttUrl: "mqtt://127.0.0.1:1883",
};

function issuesOf(fn: () => unknown): Array<{ path: string; message: string }> {
  try {
    fn();
  } catch (err) {
    if (!isKensaError(err)) throw err;
    expect(err.code).toBe("KENSA_ERR_CONFIG_INVALID");
    return (err.details as { issues: Array<{ path: string; message: string }> }).issues;
  }
  throw new Error("expected the config to be rejected");
}

describe("agent config", () => {
  it("applies schema defaults per source type and freezes the result", () => {
    const c = loadAgentConfig({
      ...base,
      sources: [
        { id: "cam", type: "synthetic" },
        { id: "dir", type: "folder", path: "/frames" },
      ],
    });
    expect(c.pipeline).toBe("default");
    expect(c.telemetryIntervalMs).toBe(5000);
    expect(c.reportIntervalMs).toBe(30_000);
    expect(c.mediaUploadConcurrency).toBe(2);
    expect(c.dataDir).toBe(join(process.cwd(), ".kensa/agent-cam-1"));
    expect(c.sources[0]).toEqual({
      id: "cam",
      type: "synthetic",
      fps: 5,
      seed: 1,
      defectRate: 0.3,
      width: 320,
      height: 240,
    });
    expect(c.sources[1]).toEqual({ id: "dir", type: "folder", path: "/frames", fps: 2, loop: true });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.sources[0])).toBe(true);
  });

  it("names the key path of every error, unknown keys included, per source variant", () => {
    const issues = issuesOf(() =>
      loadAgentConfig({
        ...base,
        mqttUrl: "localhost:1883",
        telemetryIntervalMs: "5s",
        colour: "blue",
        sources: [
          { id: "cam", type: "synthetic", fps: -1, sead: 3 },
          { id: "dir", type: "folder" },
          { id: "usb", type: "v4l2" },
          { id: "cam", type: "synthetic" },
        ],
      }),
    );
    const paths = issues.map((i) => i.path);
    expect(paths).toContain("/mqttUrl");
    expect(paths).toContain("/telemetryIntervalMs");
    expect(paths).toContain("/colour");
    expect(paths).toContain("/sources/0/fps");
    expect(paths).toContain("/sources/0/sead");
    expect(paths).toContain("/sources/1/path");
    expect(paths).toContain("/sources/2/type");
    expect(paths).toContain("/sources/3/id");
    expect(issues.find((i) => i.path === "/sources/2/type")?.message).toMatch(/synthetic, folder/);
  });

  it("takes the secret from env and flags over the file, and never echoes the secret", () => {
    const c = loadAgentConfig(
      { ...base, secret: undefined },
      { mqttUrl: "mqtt://broker:1883", dataDir: "/var/lib/kensa" },
      { KENSA_DEVICE_SECRET: "from-env" },
    );
    expect(c.secret).toBe("from-env");
    expect(c.mqttUrl).toBe("mqtt://broker:1883");
    expect(c.dataDir).toBe("/var/lib/kensa");
    const issues = issuesOf(() => loadAgentConfig({ ...base, secret: "", deviceId: "Cam 1" }, {}, {}));
    expect(issues.map((i) => i.path).sort()).toEqual(["/deviceId", "/secret"]);
  });

  it("--validate-config prints OK or the key paths and exits 0/1", async () => {
    const dir = await tempDir();
    try {
      const good = join(dir.path, "good.json");
      const bad = join(dir.path, "bad.json");
      writeFileSync(good, JSON.stringify({ ...base, sources: [{ id: "cam", type: "synthetic" }] }));
      writeFileSync(bad, JSON.stringify({ ...base, sources: [{ id: "cam", type: "synthetic", fsp: 5 }] }));
      const run = (file: string, ...extra: string[]) =>
        spawnSync(
          process.execPath,
          ["--import", "tsx", "apps/agent/src/main.ts", "--config", file, "--validate-config", ...extra],
          { cwd: repoRoot, encoding: "utf8", env: { ...process.env, KENSA_DEVICE_SECRET: "" } },
        );
      const ok = run(good);
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout.trim()).toBe("OK");
      const ko = run(bad, "--mqtt", "nope");
      expect(ko.status).toBe(1);
      expect(ko.stderr).toContain("KENSA_ERR_CONFIG_INVALID");
      expect(ko.stderr).toContain("/sources/0/fsp");
      expect(ko.stderr).toContain("/mqttUrl");
      expect(ko.stderr + ko.stdout).not.toContain("s3cret");
    } finally {
      await dir.remove();
    }
  });
});
