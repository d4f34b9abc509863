import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "../../cli/test/run-kensa.js";
import { startHub, type TestHub } from "./helpers.js";

/** `kensa site add|list|token` against a real hub, as the real command in a child process. */
describe("kensa site", () => {
  let t: TestHub;
  let env: Record<string, string>;

  beforeAll(async () => {
    t = await startHub();
    env = { KENSA_HUB_URL: t.httpUrl, KENSA_ADMIN_TOKEN: t.hub.adminToken };
  });
  afterAll(async () => {
    await t?.close();
  });

  const models = (token: string) =>
    t.call("GET", "/api/v1/federation/sites/plant-x/models", { auth: `Bearer ${token}` });

  it("adds a site with its token shown once, lists it, and rotates the token", async () => {
    const add = await kensa(env, "site", "add", "plant-x", "--name", "Plant X", "--projects", "a, b");
    expect(add.status, add.stderr).toBe(0);
    const token = /token \(shown once\): (kensa_site_\S+)/.exec(add.stdout)?.[1];
    expect(token).toBeDefined();
    expect(add.stdout).toContain('"siteId": "plant-x"');
    expect((await models(token!)).status).toBe(200);

    const again = await kensa(env, "site", "add", "plant-x", "--name", "Plant X", "--projects", "a");
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain("KENSA_ERR_SITE_EXISTS");

    const list = await kensa(env, "site", "list", "--json");
    expect(list.status, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ id: "plant-x", name: "Plant X", projects: ["a", "b"], incidents: 0 }),
    ]);

    const rotated = await kensa(env, "site", "token", "plant-x", "--json");
    expect(rotated.status, rotated.stderr).toBe(0);
    const next = (JSON.parse(rotated.stdout) as { token: string }).token;
    expect(next).not.toBe(token);
    expect((await models(token!)).status).toBe(401);
    expect((await models(next)).status).toBe(200);
    const missing = await kensa(env, "site", "token", "nope");
    expect(missing.stderr).toContain("KENSA_ERR_SITE_NOT_FOUND");
  }, 60_000);
});
