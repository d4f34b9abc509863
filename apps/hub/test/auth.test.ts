import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type ApiToken, type Incident, permissionsOf, topics, type User, type Verdict } from "@kensa/contracts";
import { tempDir, waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHub } from "../src/index.js";
import { cookieCall, createUser, login, type TestUser } from "./auth-fixtures.js";
import { backends, connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

const list = await backends("auth");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

describe.each(list)("people, sessions and tokens ($name)", (backend) => {
  let t: TestHub;
  let site: TestUser;

  beforeAll(async () => {
    t = await startHub({ database: backend.database() }, { deps: { env: {} } });
    site = await createUser(t.httpUrl, t.call, "site_engineer", "sam");
  });
  afterAll(async () => {
    await t.close();
  });

  it("creates the admin user on first start with a generated password only its owner can read", async () => {
    const password = t.hub.initialAdminPassword;
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const file = join(t.dir.path, "admin-password");
    expect((await readFile(file, "utf8")).trim()).toBe(password);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const r = await login(t.httpUrl, "admin", password!);
    expect(r.status).toBe(200);
    expect(r.json.user).toMatchObject({ username: "admin", role: "admin" });
    expect(r.json.permissions).toEqual(permissionsOf("admin"));
  });

  it("signs in with a strict HttpOnly cookie, answers me, and signs out", async () => {
    const r = await login(t.httpUrl, "Sam", site.password);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      user: { id: site.id, username: "sam", displayName: "Test sam", role: "site_engineer" },
      permissions: permissionsOf("site_engineer"),
    });
    const setCookie = r.setCookie!;
    expect(setCookie).toMatch(/^kensa_session=[A-Za-z0-9_-]{43};/);
    for (const flag of ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"]) expect(setCookie).toContain(flag);
    expect(setCookie).not.toContain("Secure");

    // the database holds the token's sha256, never the token
    const token = r.cookie!.slice("kensa_session=".length);
    const rows = await t.hub.store.db.selectFrom("sessions").select("token_hash").execute();
    expect(rows.map((x) => x.token_hash)).toContain(sha256(token));
    expect(JSON.stringify(rows)).not.toContain(token);

    const call = cookieCall(t.httpUrl, r.cookie!);
    const me = await call("GET", "/api/v1/auth/me");
    expect(me.status).toBe(200);
    expect(me.json).toEqual(r.json);

    const noHeader = await cookieCall(t.httpUrl, r.cookie!, { csrf: false })("POST", "/api/v1/auth/logout", {
      body: {},
    });
    expect(noHeader.status).toBe(403);
    const out = await call("POST", "/api/v1/auth/logout", { body: {} });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^kensa_session=;.*Max-Age=0/);
    const after = await call("GET", "/api/v1/auth/me");
    expect(after.status).toBe(401);
    expect(after.json).toMatchObject({ error: { code: "KENSA_ERR_UNAUTHORIZED" } });
    // the bootstrap admin token appears as a pseudo-user with every permission
    expect((await t.call("GET", "/api/v1/auth/me")).json).toMatchObject({
      user: { username: "admin-token", role: "admin" },
      permissions: permissionsOf("admin"),
    });
  });

  it("answers a wrong password, an unknown user and a disabled user alike", async () => {
    const wrong = await login(t.httpUrl, "sam", "not-the-password");
    const unknown = await login(t.httpUrl, "nobody-here", "not-the-password");
    const off = await createUser(t.httpUrl, t.call, "labeler", "off");
    await t.call("PATCH", `/api/v1/users/${off.id}`, { body: { disabled: true } });
    const disabled = await login(t.httpUrl, "off", off.password);
    for (const r of [wrong, unknown, disabled]) {
      expect(r.status).toBe(401);
      expect(r.cookie).toBeNull();
      expect(r.json).toEqual({ error: { code: "KENSA_ERR_UNAUTHORIZED", message: "invalid username or password" } });
    }
  });

  it("throttles a username from an address after five failures a minute, even with the right password", async () => {
    const victim = await createUser(t.httpUrl, t.call, "labeler", "throttled");
    for (let i = 0; i < 5; i++) expect((await login(t.httpUrl, "throttled", `guess-${i}`)).status).toBe(401);
    const blocked = await login(t.httpUrl, "THROTTLED", victim.password);
    expect(blocked.status).toBe(429);
    expect(blocked.json).toMatchObject({ error: { code: "KENSA_ERR_LOGIN_THROTTLED" } });
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(blocked.cookie).toBeNull();
    // another user from the same address is not affected
    expect((await login(t.httpUrl, "sam", site.password)).status).toBe(200);
  });

  it("refuses cookie-authenticated writes without x-kensa-csrf; token writes need no header", async () => {
    const { cookie } = await login(t.httpUrl, "sam", site.password);
    const bare = cookieCall(t.httpUrl, cookie!, { csrf: false });
    const refused = await bare("POST", "/api/v1/incidents/inc_nope/acknowledge", { body: {} });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: { code: "KENSA_ERR_CSRF_HEADER_MISSING" } });
    expect((await bare("GET", "/api/v1/incidents")).status).toBe(200);
    const withHeader = await cookieCall(t.httpUrl, cookie!)("POST", "/api/v1/incidents/inc_nope/acknowledge", {
      body: {},
    });
    expect(withHeader.json).toMatchObject({ error: { code: "KENSA_ERR_INCIDENT_NOT_FOUND" } });
    const byToken = await site.call("POST", "/api/v1/incidents/inc_nope/acknowledge", { body: {} });
    expect(byToken.json).toMatchObject({ error: { code: "KENSA_ERR_INCIDENT_NOT_FOUND" } });
  });

  it("refuses a forged session cookie and an unknown API token", async () => {
    const forged = cookieCall(t.httpUrl, `kensa_session=${"A".repeat(43)}`);
    expect((await forged("GET", "/api/v1/auth/me")).status).toBe(401);
    expect((await t.call("GET", "/api/v1/auth/me", { auth: "Bearer kensa_pat_nope" })).status).toBe(401);
  });

  it("shows an API token once, acts with its user's current role, and revokes it", async () => {
    const lab = await createUser(t.httpUrl, t.call, "labeler", "lena");
    const { cookie } = await login(t.httpUrl, "lena", lab.password);
    const session = cookieCall(t.httpUrl, cookie!);
    const created = await session<{ id: string; name: string; token: string }>(
      "POST",
      `/api/v1/users/${lab.id}/tokens`,
      { body: { name: "laptop" } },
    );
    expect(created.status).toBe(201);
    expect(created.json.token).toMatch(/^kensa_pat_[A-Za-z0-9_-]{43}$/);
    const listed = await session<{ items: ApiToken[] }>("GET", `/api/v1/users/${lab.id}/tokens`);
    expect(listed.json.items.map((x) => x.name).sort()).toEqual(["laptop", "tests"]);
    expect(JSON.stringify(listed.json)).not.toContain(created.json.token);
    const rows = await t.hub.store.db.selectFrom("api_tokens").select("token_hash").execute();
    expect(rows.map((r) => r.token_hash)).toContain(sha256(created.json.token));

    const bearer = `Bearer ${created.json.token}`;
    expect((await t.call("GET", "/api/v1/auth/me", { auth: bearer })).json).toMatchObject({
      user: { username: "lena", role: "labeler" },
    });
    expect((await t.call("GET", "/api/v1/devices", { auth: bearer })).status).toBe(403);
    await t.call("PATCH", `/api/v1/users/${lab.id}`, { body: { role: "iot_engineer" } });
    expect((await t.call("GET", "/api/v1/devices", { auth: bearer })).status).toBe(200);

    // someone else's tokens are not yours to see, make or revoke
    expect((await session("GET", `/api/v1/users/${site.id}/tokens`)).status).toBe(403);
    expect((await session("POST", `/api/v1/users/${site.id}/tokens`, { body: { name: "x" } })).status).toBe(403);
    const siteTokens = await t.call<{ items: ApiToken[] }>("GET", `/api/v1/users/${site.id}/tokens`);
    expect((await session("DELETE", `/api/v1/tokens/${siteTokens.json.items[0]!.id}`)).status).toBe(403);

    const revoked = await session("DELETE", `/api/v1/tokens/${created.json.id}`);
    expect(revoked.status).toBe(204);
    expect((await t.call("GET", "/api/v1/auth/me", { auth: bearer })).status).toBe(401);
    expect((await session("DELETE", `/api/v1/tokens/${created.json.id}`)).json).toMatchObject({
      error: { code: "KENSA_ERR_TOKEN_NOT_FOUND" },
    });
  });

  it("manages users: duplicates, reserved names, disabling, passwords and the last admin", async () => {
    const u = await createUser(t.httpUrl, t.call, "data_scientist", "dana");
    const dup = await t.call("POST", "/api/v1/users", {
      body: { username: "dana", displayName: "Dana 2", role: "labeler", password: "long-enough-1" },
    });
    expect(dup.status).toBe(409);
    expect(dup.json).toMatchObject({ error: { code: "KENSA_ERR_USER_EXISTS" } });
    for (const body of [
      { username: "admin-token", displayName: "x", role: "labeler", password: "long-enough-1" },
      { username: "ok-name", displayName: "x", role: "overlord", password: "long-enough-1" },
      { username: "ok-name", displayName: "x", role: "labeler", password: "short" },
      { username: "Bad Name", displayName: "x", role: "labeler", password: "long-enough-1" },
    ]) {
      expect((await t.call("POST", "/api/v1/users", { body })).status).toBe(400);
    }
    const users = await t.call<{ items: User[] }>("GET", "/api/v1/users");
    expect(users.json.items.find((x) => x.username === "dana")).toMatchObject({
      role: "data_scientist",
      disabled: false,
    });
    expect(JSON.stringify(users.json)).not.toMatch(/scrypt|password/);
    expect((await u.call("GET", "/api/v1/users")).status).toBe(403);

    const { cookie } = await login(t.httpUrl, "dana", u.password);
    const session = cookieCall(t.httpUrl, cookie!);
    expect((await session("GET", "/api/v1/auth/me")).status).toBe(200);
    await t.call("PATCH", `/api/v1/users/${u.id}`, { body: { disabled: true } });
    expect((await session("GET", "/api/v1/auth/me")).status).toBe(401);
    expect((await u.call("GET", "/api/v1/auth/me")).status).toBe(401);
    const enabled = await t.call<User>("PATCH", `/api/v1/users/${u.id}`, { body: { disabled: false } });
    expect(enabled.json.disabled).toBe(false);
    expect((await u.call("GET", "/api/v1/auth/me")).status).toBe(200);

    const again = await login(t.httpUrl, "dana", u.password);
    await t.call("PATCH", `/api/v1/users/${u.id}`, { body: { password: "a-new-password" } });
    expect((await cookieCall(t.httpUrl, again.cookie!)("GET", "/api/v1/auth/me")).status).toBe(401);
    expect((await login(t.httpUrl, "dana", u.password)).status).toBe(401);
    expect((await login(t.httpUrl, "dana", "a-new-password")).status).toBe(200);

    const admin = users.json.items.find((x) => x.username === "admin")!;
    const demote = await t.call("PATCH", `/api/v1/users/${admin.id}`, { body: { role: "labeler" } });
    expect(demote.status).toBe(409);
    expect(demote.json).toMatchObject({ error: { code: "KENSA_ERR_LAST_ADMIN" } });
    expect((await t.call("PATCH", "/api/v1/users/usr_nope", { body: { role: "labeler" } })).status).toBe(404);
  });

  describe("reviews by signed-in people", () => {
    let device: MqttClient;
    let projectId: string;

    beforeAll(async () => {
      const s = await seed(t.call, "reviews", [{ id: "rev-cam" }]);
      projectId = s.projectId;
      device = await connectDevice(t.mqttUrl, "rev-cam", s.secrets["rev-cam"]!);
    });
    afterAll(async () => {
      await device.endAsync(true);
    });

    async function raise(): Promise<Incident> {
      const ev = makeEvent("rev-cam", { label: "defect", score: 0.97 });
      await device.publishAsync(topics.events("rev-cam"), JSON.stringify(ev), { qos: 1 });
      let found: Incident | undefined;
      await waitFor("incident raised", async () => {
        const r = await t.call<{ items: Incident[] }>("GET", `/api/v1/incidents?projectId=${projectId}`);
        found = r.json.items.find((i) => i.eventId === ev.id);
        return found !== undefined;
      });
      return found!;
    }

    it("records the user's username whatever the body says, and acknowledges once", async () => {
      const inc = await raise();
      const { cookie } = await login(t.httpUrl, "sam", site.password);
      const session = cookieCall(t.httpUrl, cookie!);
      const ack = await session<Incident>("POST", `/api/v1/incidents/${inc.id}/acknowledge`, { body: {} });
      expect(ack.status).toBe(200);
      expect(ack.json).toMatchObject({ status: "acknowledged", acknowledgedBy: "sam" });
      expect(Date.parse(ack.json.acknowledgedAt!)).toBeGreaterThan(Date.parse(inc.createdAt) - 1000);
      const again = await site.call<Incident>("POST", `/api/v1/incidents/${inc.id}/acknowledge`, { body: {} });
      expect(again.json).toMatchObject({ acknowledgedBy: "sam", acknowledgedAt: ack.json.acknowledgedAt });

      const v = await session<Verdict>("POST", `/api/v1/incidents/${inc.id}/verdict`, {
        body: { verdict: "confirmed", by: "someone-else" },
      });
      expect(v.status).toBe(201);
      expect(v.json.by).toBe("sam");
      const byToken = await site.call<Verdict>("POST", `/api/v1/incidents/${inc.id}/verdict`, {
        body: { verdict: "false_alarm" },
      });
      expect(byToken.json.by).toBe("sam");
      const decided = await session("POST", `/api/v1/incidents/${inc.id}/acknowledge`, { body: {} });
      expect(decided.status).toBe(409);
      expect(decided.json).toMatchObject({ error: { code: "KENSA_ERR_INCIDENT_ALREADY_DECIDED" } });
    });

    it("lets only the bootstrap admin token name the reviewer", async () => {
      const inc = await raise();
      const named = await t.call<Verdict>("POST", `/api/v1/incidents/${inc.id}/verdict`, {
        body: { verdict: "confirmed", by: "simulated-reviewer" },
      });
      expect(named.json.by).toBe("simulated-reviewer");
      const unnamed = await t.call<Verdict>("POST", `/api/v1/incidents/${inc.id}/verdict`, {
        body: { verdict: "confirmed" },
      });
      expect(unnamed.json.by).toBe("admin-token");
    });
  });
});

describe("first start and cookie settings", () => {
  it("takes the admin password from env, generates none, keeps it on restart, and marks https cookies Secure", async () => {
    const dir = await tempDir();
    try {
      const config = {
        dataDir: dir.path,
        logLevel: "silent" as const,
        http: { publicUrl: "https://kensa.example" },
        auth: { sessionTtlHours: 1 / 3600 },
      };
      const env = { KENSA_ADMIN_PASSWORD: "from-the-environment" };
      const hub = await createHub(config, { env });
      try {
        expect(hub.initialAdminPassword).toBeNull();
        await expect(stat(join(dir.path, "admin-password"))).rejects.toThrow();
        const r = await hub.app.inject({
          method: "POST",
          url: "/api/v1/auth/login",
          payload: { username: "admin", password: "from-the-environment" },
        });
        expect(r.statusCode).toBe(200);
        const setCookie = String(r.headers["set-cookie"]);
        expect(setCookie).toContain("; Secure");
        expect(setCookie).toContain("Max-Age=1;");
        const cookie = setCookie.split(";")[0]!;
        expect((await hub.app.inject({ url: "/api/v1/auth/me", headers: { cookie } })).statusCode).toBe(200);
        await new Promise((r) => setTimeout(r, 1100));
        expect((await hub.app.inject({ url: "/api/v1/auth/me", headers: { cookie } })).statusCode).toBe(401);
      } finally {
        await hub.close();
      }
      // a later start neither recreates the admin nor changes its password
      const again = await createHub(config, { env: { KENSA_ADMIN_PASSWORD: "another-password" } });
      try {
        expect(again.initialAdminPassword).toBeNull();
        const r = await again.app.inject({
          method: "POST",
          url: "/api/v1/auth/login",
          payload: { username: "admin", password: "from-the-environment" },
        });
        expect(r.statusCode).toBe(200);
      } finally {
        await again.close();
      }
    } finally {
      await dir.remove();
    }
  });
});
