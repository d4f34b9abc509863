import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ProjectReference } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import { type TempDir, tempDir } from "@kensa/testkit";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

const ADMIN = "cli-reference-admin-token-0123456789";

describe("kensa project reference add / list / remove", () => {
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
    const res = await hub.app.inject({
      method: "POST",
      url: "/api/v1/projects",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { slug: "labels", name: "Labels", task: "segmentation", labels: ["background", "defect"], okLabels: [] },
    });
    expect(res.statusCode, res.body).toBe(201);
    for (const [name, grey] of [
      ["a.png", 40],
      ["b.png", 200],
    ] as const) {
      const png = await sharp({
        create: { width: 32, height: 24, channels: 3, background: { r: grey, g: grey, b: grey } },
      })
        .png()
        .toBuffer();
      await writeFile(join(dir.path, name), png);
    }
    await writeFile(join(dir.path, "notes.txt"), "not an image");
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("registers per key, lists the default first, removes, and names what went wrong", async () => {
    const a = await kensa(env, "project", "reference", "add", "labels", "--key", "board-a", join(dir.path, "a.png"));
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toContain('reference "board-a" 32×24 (default)');
    const b = await kensa(env, "project", "reference", "add", "labels", "--key", "board-b", join(dir.path, "b.png"));
    expect(b.status, b.stderr).toBe(0);
    const list = await kensa(env, "project", "reference", "list", "labels", "--json");
    expect(list.status, list.stderr).toBe(0);
    const items = JSON.parse(list.stdout) as ProjectReference[];
    expect(items.map((r) => [r.key, r.isDefault])).toEqual([
      ["board-a", true],
      ["board-b", false],
    ]);
    const rm = await kensa(env, "project", "reference", "remove", "labels", "board-a");
    expect(rm.status, rm.stderr).toBe(0);
    const table = await kensa(env, "project", "reference", "list", "labels");
    expect(table.stdout).toContain("board-b (default)");
    expect(table.stdout).not.toContain("board-a");
    const missing = await kensa(env, "project", "reference", "remove", "labels", "board-a");
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain("KENSA_ERR_REFERENCE_NOT_FOUND");
    const txt = await kensa(env, "project", "reference", "add", "labels", "--key", "x", join(dir.path, "notes.txt"));
    expect(txt.status).not.toBe(0);
    expect(txt.stderr).toContain("KENSA_ERR_FLAG_INVALID");
  }, 60_000);
});
