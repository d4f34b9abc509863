import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHub, type Hub } from "@kensa/hub";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

const ADMIN = "cli-device-config-admin-token-0123456";

/** `kensa device config set | get | history` against a real hub. */
describe("kensa device config", () => {
  let dir: TempDir;
  let hub: Hub;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await tempDir();
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      adminToken: ADMIN,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      logLevel: "silent",
    });
    const { httpUrl } = await hub.start();
    env = { KENSA_HUB_URL: httpUrl, KENSA_ADMIN_TOKEN: ADMIN };
    const project = await hub.app.inject({
      method: "POST",
      url: "/api/v1/projects",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { slug: "press", name: "Press", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    await hub.app.inject({
      method: "POST",
      url: "/api/v1/devices",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { projectId: project.json().id, id: "cam-1", name: "Press camera", tags: [] },
    });
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("sets a config from a file, shows it and its history; refuses an invalid one with the key paths", async () => {
    const good = join(dir.path, "good.json");
    writeFileSync(good, JSON.stringify({ sources: [{ id: "cam", type: "synthetic", fps: 2 }], frameQueue: 8 }));
    const set = await kensa(env, "device", "config", "set", "Press camera", "--file", good, "--comment", "first");
    expect(set.stderr).toBe("");
    expect(set.stdout).toContain("device cam-1: config rev 1; sent as rev 1");
    const text = await kensa(env, "device", "config", "get", "cam-1");
    expect(text.stdout).toContain("desired:         rev 1");
    expect(text.stdout).toContain("applied:         not reported");
    // the merged config as sent closes the output
    expect(JSON.parse(text.stdout.slice(text.stdout.indexOf("{")))).toEqual({
      sources: [{ id: "cam", type: "synthetic", fps: 2 }],
      frameQueue: 8,
    });

    const bad = join(dir.path, "bad.json");
    writeFileSync(bad, JSON.stringify({ sources: [{ id: "cam", type: "synthetic", fps: 0 }], deviceId: "x" }));
    const refused = await kensa(env, "device", "config", "set", "cam-1", "--file", bad);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("KENSA_ERR_DEVICE_CONFIG_INVALID");
    expect(refused.stderr).toContain("/sources/0/fps");
    expect(refused.stderr).toContain("/deviceId");

    const history = await kensa(env, "device", "config", "history", "cam-1");
    const lines = history.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rev 1 .* sources,frameQueue {2}"first"$/);
  });
});
