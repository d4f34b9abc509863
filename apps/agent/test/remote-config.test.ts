import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { deviceConfigIssues, mergeDeviceConfig } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAgentConfig } from "../src/config.js";
import { keysNeedingRestart, layerConfig, prepareConfig } from "../src/remote-config/effective-config.js";
import { RemoteConfigStore } from "../src/remote-config/remote-config-store.js";

const file = {
  deviceId: "cam-1",
  secret: "s3cret",
  hubUrl: "http://127.0.0.1:8080",
  mqttUrl: "mqtt://127.0.0.1:1883",
  sources: [{ id: "local", type: "synthetic", fps: 2 }],
  capture: { dailyBudget: 10, sampleRate: 0.1 },
  reportIntervalMs: 5000,
};

describe("remote config layers", () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  it("lays the hub's config over agent.json and agent.json's overrides over both", () => {
    const base = loadAgentConfig({ ...file, overrides: { capture: { dailyBudget: 3 }, frameQueue: 4 } });
    const remote = {
      sources: [{ id: "hub", type: "synthetic", fps: 1, pipeline: "line-2" }],
      capture: { dailyBudget: 500, band: [0.2, 0.8] },
      frameQueue: 32,
    };
    const { config, overridden } = layerConfig(base, remote);
    // the hub's sources replace the file's whole list
    expect(config.sources.map((s) => s.id)).toEqual(["hub"]);
    // objects merge key by key: the file's sampleRate stays, the hub's band wins, the local pin wins over both
    expect(config.capture).toMatchObject({ dailyBudget: 3, sampleRate: 0.1, band: [0.2, 0.8] });
    expect(config.frameQueue).toBe(4);
    // what the hub did not set stays as the file says; bootstrap keys are the file's alone
    expect(config.reportIntervalMs).toBe(5000);
    expect(config.hubUrl).toBe(file.hubUrl);
    expect(overridden.sort()).toEqual(["/capture/dailyBudget", "/frameQueue"]);
  });

  it("runs agent.json alone with remoteConfig false", () => {
    const base = loadAgentConfig({ ...file, remoteConfig: false });
    const { config } = layerConfig(base, { frameQueue: 99 });
    expect(config.frameQueue).toBe(16);
  });

  it("refuses bad local overrides when the agent starts, naming the key path", () => {
    expect(() => loadAgentConfig({ ...file, overrides: { capture: { dailyBudget: -1 }, deviceId: "x" } })).toThrow(
      /\/overrides\/capture\/dailyBudget.*|\/overrides\/deviceId/,
    );
  });

  it("refuses a config the device cannot run, naming the key path, before switching", async () => {
    const base = loadAgentConfig(file);
    const ok = join(dir.path, "frames");
    mkdirSync(ok);
    const good = await prepareConfig(base, { sources: [{ id: "f", type: "folder", path: ok }] });
    expect(good.ok).toBe(true);
    const bad = await prepareConfig(base, {
      sources: [
        { id: "f", type: "folder", path: ok },
        { id: "g", type: "folder-watch", path: join(dir.path, "missing") },
      ],
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.map((i) => i.path)).toEqual(["/sources/1/path"]);
    // what the agent's own schema refuses is refused too (a key this agent does not know)
    const unknown = await prepareConfig(base, { capture: { everyFrame: true } });
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.issues[0]?.path).toBe("/capture/everyFrame");
  });

  it("applies sources and capture live, restarts for other keys and for added video sources", () => {
    const base = loadAgentConfig(file);
    const live = layerConfig(base, { sources: [{ id: "x", type: "synthetic" }], capture: { sampleRate: 1 } }).config;
    expect(keysNeedingRestart(base, live)).toEqual([]);
    const restart = layerConfig(base, { telemetryIntervalMs: 1000, media: { quotaBytes: 1 } }).config;
    expect(keysNeedingRestart(base, restart).sort()).toEqual(["media", "telemetryIntervalMs"]);
    const video = layerConfig(base, { sources: [{ id: "v", type: "rtsp", url: "rtsp://cam/1" }] }).config;
    expect(keysNeedingRestart(base, video)).toEqual(["sources"]);
  });

  it("keeps the running remote config in the data dir", async () => {
    const store = new RemoteConfigStore(dir.path);
    expect(store.read()).toBeUndefined();
    const stored = { rev: 4, sha256: "a".repeat(64), config: { frameQueue: 8 }, appliedAt: new Date().toISOString() };
    await store.write(stored);
    expect(store.read()).toEqual(stored);
    await store.clear();
    expect(store.read()).toBeUndefined();
  });

  it("checks a config with the contracts' schema as the hub does, partial sections included", () => {
    expect(deviceConfigIssues({ capture: { dailyBudget: 5 } })).toEqual([]);
    expect(deviceConfigIssues({ capture: { band: [0.9, 0.1] } }).map((i) => i.path)).toEqual(["/capture/band"]);
    const dup = deviceConfigIssues({
      sources: [
        { id: "a", type: "synthetic" },
        { id: "a", type: "teleport" },
      ],
    });
    expect(dup.map((i) => i.path)).toEqual(["/sources/1/id", "/sources/1/type"]);
    expect(deviceConfigIssues({ hubUrl: "http://elsewhere" }).map((i) => i.path)).toEqual(["/hubUrl"]);
    expect(mergeDeviceConfig({ capture: { band: null, dailyBudget: 1 } }, { capture: { dailyBudget: 2 } })).toEqual({
      capture: { band: null, dailyBudget: 2 },
    });
  });
});
