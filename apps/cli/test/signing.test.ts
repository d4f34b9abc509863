import { join } from "node:path";
import { createHub, type Hub } from "@kensa/hub";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

const ADMIN = "cli-signing-admin-token-0123456789";

describe("kensa signing status | rotate | retire", () => {
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
    env = { KENSA_HUB_URL: (await hub.start()).httpUrl, KENSA_ADMIN_TOKEN: ADMIN };
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("rotates to a new key trusted by a root both keys sign, then retires the old one; the active key cannot be retired", async () => {
    const before = JSON.parse((await kensa(env, "signing", "status", "--json")).stdout);
    expect(before.root.version).toBe(1);
    const text = await kensa(env, "signing", "status");
    expect(text.stdout).toMatch(new RegExp(`^signing key\\s+${before.activeKeyId} \\(key file\\)$`, "m"));
    expect(text.stdout).toMatch(/^retired keys\s+none$/m);

    const rotated = await kensa(env, "signing", "rotate");
    expect(rotated.status).toBe(0);
    expect(rotated.stdout).toMatch(/retire the old key: kensa signing retire <keyId>/);
    const after = JSON.parse((await kensa(env, "signing", "status", "--json")).stdout);
    expect(after.activeKeyId).not.toBe(before.activeKeyId);
    expect(after.root.version).toBe(2);
    expect(after.root.keys.map((k: { id: string }) => k.id)).toEqual(
      expect.arrayContaining([before.activeKeyId, after.activeKeyId]),
    );

    const active = await kensa(env, "signing", "retire", after.activeKeyId);
    expect(active.status).not.toBe(0);
    expect(active.stderr).toMatch(/KENSA_ERR_SIGNING_KEY_ACTIVE/);

    const retired = await kensa(env, "signing", "retire", before.activeKeyId, "--json");
    expect(retired.status).toBe(0);
    const root = JSON.parse(retired.stdout).root;
    expect(root.retired).toEqual([before.activeKeyId]);
    expect(root.keys.map((k: { id: string }) => k.id)).toEqual([after.activeKeyId]);
  }, 90_000);
});
