import { join } from "node:path";
import { createHub, type Hub } from "@kensa/hub";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

const ADMIN = "cli-device-lifecycle-admin-token-0123";

/**
 * `kensa device edit | tag | rotate-secret | revoke | retire | delete` against a real hub, each
 * taking a device by id or by name, and asking for --yes where nothing can be undone.
 */
describe("kensa device lifecycle commands", () => {
  let dir: TempDir;
  let hub: Hub;
  let env: Record<string, string>;
  const secrets: Record<string, string> = {};

  const api = async (method: "GET" | "PUT", url: string, auth = `Bearer ${ADMIN}`, payload?: Buffer) =>
    hub.app.inject({
      method,
      url,
      headers: { authorization: auth, ...(payload ? { "content-type": "image/jpeg" } : {}) },
      ...(payload ? { payload } : {}),
    });
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

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
    for (const [id, name] of [
      ["cam-1", "Press camera"],
      ["cam-2", "Oven camera"],
    ] as const) {
      const e = await hub.app.inject({
        method: "POST",
        url: "/api/v1/devices",
        headers: { authorization: `Bearer ${ADMIN}` },
        payload: { projectId: project.json().id, id, name, tags: [] },
      });
      secrets[id] = e.json().secret;
    }
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("edits and tags a device found by name", async () => {
    const [tagged, edited, bad] = await Promise.all([
      kensa(env, "device", "tag", "press camera", "--add", "line-a", "dock"),
      kensa(env, "device", "edit", "cam-2", "--description", "above the oven door"),
      kensa(env, "device", "tag", "cam-1", "--set", "x", "--add", "y"),
    ]);
    expect(tagged.status, tagged.stderr).toBe(0);
    expect(tagged.stdout).toContain("device cam-1: tags dock, line-a");
    expect(tagged.stdout).toContain("no deployment changed");
    expect(edited.status, edited.stderr).toBe(0);
    expect((await api("GET", "/api/v1/devices/cam-2")).json().description).toBe("above the oven door");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("KENSA_ERR_FLAG_INVALID");

    const cleared = await kensa(env, "device", "tag", "cam-1", "--set", "--json");
    expect(cleared.status, cleared.stderr).toBe(0);
    expect(JSON.parse(cleared.stdout).device.tags).toEqual([]);
  }, 60_000);

  it("rotates and revokes a secret only with --yes when there is no terminal", async () => {
    const unconfirmed = await kensa(env, "device", "revoke", "cam-2");
    expect(unconfirmed.status).toBe(1);
    expect(unconfirmed.stderr).toContain("Pass --yes to confirm");
    expect((await api("GET", "/api/v1/devices/cam-2")).json().revokedAt).toBeNull();

    const rotated = await kensa(env, "device", "rotate-secret", "Oven camera", "--yes");
    expect(rotated.status, rotated.stderr).toBe(0);
    const secret = /secret \(shown once, store it now\): (\S+)/.exec(rotated.stdout)?.[1];
    expect(secret).toBeDefined();
    const frame = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
    expect((await api("PUT", "/api/v1/devices/cam-2/frame", basic("cam-2", secrets["cam-2"]!), frame)).statusCode).toBe(
      401,
    );
    expect((await api("GET", "/api/v1/devices/cam-2")).json().revokedAt).toBeNull();

    const revoked = await kensa(env, "device", "revoke", "cam-2", "-y");
    expect(revoked.status, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain("device cam-2 revoked");
    expect((await api("GET", "/api/v1/devices/cam-2")).json().revokedAt).toEqual(expect.any(String));
  }, 60_000);

  it("retires, lists with --retired, shows and deletes a retired device", async () => {
    const retired = await kensa(env, "device", "retire", "Press camera", "--yes");
    expect(retired.status, retired.stderr).toBe(0);
    expect(retired.stdout).toContain("device cam-1 retired");

    const [listed, all, shown] = await Promise.all([
      kensa(env, "device", "list"),
      kensa(env, "device", "list", "--retired"),
      kensa(env, "device", "show", "Press camera"),
    ]);
    expect(listed.stdout).not.toContain("cam-1");
    expect(all.stdout).toMatch(/cam-1\s+Press camera\s+retired/);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/retired\s+\d{4}-/);

    const deleted = await kensa(env, "device", "delete", "cam-1", "--yes");
    expect(deleted.status, deleted.stderr).toBe(0);
    const gone = await kensa(env, "device", "show", "cam-1");
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain("KENSA_ERR_DEVICE_NOT_FOUND");
    // cam-2 has been revoked but connected never: deleting it needs no retirement
    const never = await kensa(env, "device", "delete", "cam-2", "--yes");
    expect(never.status, never.stderr).toBe(0);
  }, 90_000);
});
