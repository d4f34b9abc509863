import type { Project } from "@kensa/contracts";
import { tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHub } from "../src/index.js";
import { backends, projectBody, startHub, type TestHub } from "./helpers.js";

const list = await backends("projects");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("projects ($name)", (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
  });
  afterAll(async () => {
    await t.close();
  });

  it("creates with defaults, lists, gets and patches; never shows webhook secrets", async () => {
    const created = await t.call<Project>("POST", "/api/v1/projects", {
      body: projectBody("welds", {
        notifications: { webhooks: [{ url: "http://127.0.0.1:1/h", secret: "super-secret-value-123" }] },
      }),
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      slug: "welds",
      labels: ["ok", "defect"],
      okLabels: ["ok"],
      rule: { type: "threshold", labels: [], minScore: 0.5 },
      notifications: { email: [], webhooks: [{ url: "http://127.0.0.1:1/h" }], cooldownSec: 300 },
    });
    expect(created.json.id).toMatch(/^prj_/);
    const all = await t.call<{ items: Project[] }>("GET", "/api/v1/projects");
    expect(all.json.items.map((p) => p.slug)).toContain("welds");
    expect(JSON.stringify(all.json)).not.toContain("super-secret-value-123");
    const patched = await t.call<Project>("PATCH", `/api/v1/projects/${created.json.id}`, {
      body: { name: "Welds v2", rule: { type: "threshold", labels: ["defect"], minScore: 0.7 } },
    });
    expect(patched.json).toMatchObject({ name: "Welds v2", rule: { labels: ["defect"], minScore: 0.7 } });
    expect((await t.call<Project>("GET", `/api/v1/projects/${created.json.id}`)).json.name).toBe("Welds v2");
    expect(JSON.stringify(patched.json)).not.toContain("super-secret");
  });

  it("refuses duplicates, unknown keys, unknown rule labels and missing projects", async () => {
    expect((await t.call("POST", "/api/v1/projects", { body: projectBody("welds") })).json).toMatchObject({
      error: { code: "KENSA_ERR_PROJECT_EXISTS" },
    });
    const extra = await t.call<{ error: { code: string; message: string } }>("POST", "/api/v1/projects", {
      body: { ...projectBody("x1"), colour: "red" },
    });
    expect(extra.status).toBe(400);
    expect(extra.json.error.code).toBe("KENSA_ERR_VALIDATION");
    const rule = await t.call<{ error: { code: string; message: string } }>("POST", "/api/v1/projects", {
      body: projectBody("x2", { rule: { type: "threshold", labels: ["scratch"], minScore: 0.5 } }),
    });
    expect(rule.json.error.code).toBe("KENSA_ERR_VALIDATION");
    expect(rule.json.error.message).toContain("/rule/labels/0");
    const short = await t.call("POST", "/api/v1/projects", {
      body: projectBody("x3", { notifications: { webhooks: [{ url: "http://h", secret: "short" }] } }),
    });
    expect(short.status).toBe(400);
    const notJson = await t.call("POST", "/api/v1/projects", {
      raw: "{nope",
      headers: { "content-type": "application/json" },
    });
    expect(notJson.json).toMatchObject({ error: { code: "KENSA_ERR_VALIDATION" } });
    expect((await t.call("GET", "/api/v1/projects/prj_nope")).json).toMatchObject({
      error: { code: "KENSA_ERR_PROJECT_NOT_FOUND" },
    });
  });

  it("serves stats, health and the console (or how to build it)", async () => {
    const stats = await t.call<Record<string, unknown>>("GET", "/api/v1/stats");
    expect(stats.json).toMatchObject({ devices: { total: 0, online: 0 }, events: 0, incidents: 0 });
    expect((await t.call("GET", "/health", { auth: null })).json).toEqual({
      status: "ok",
      protocol: 1,
      mqtt: "connected",
      problems: [],
    });
    const home = await fetch(`${t.httpUrl}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get("content-type")).toContain("text/html");
    // the page shows nothing without signing in: no counts leak to anonymous visitors
    expect(await home.text()).not.toMatch(/<td><b>\d/);
  });
});

describe("build, then listen", () => {
  it("answers inject() before start() without binding, and keeps the generated admin token", async () => {
    const dir = await tempDir();
    try {
      const hub = await createHub({ dataDir: dir.path, logLevel: "silent" }, { env: {} });
      try {
        expect(hub.app.server.listening).toBe(false);
        const r = await hub.app.inject({
          method: "GET",
          url: "/api/v1/projects",
          headers: { authorization: `Bearer ${hub.adminToken}` },
        });
        expect(r.json()).toEqual({ items: [] });
        expect((await hub.app.inject({ method: "GET", url: "/health" })).json()).toMatchObject({
          mqtt: "disconnected",
        });
      } finally {
        await hub.close();
      }
      const { stat, readFile } = await import("node:fs/promises");
      const file = `${dir.path}/admin-token`;
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const again = await createHub({ dataDir: dir.path, logLevel: "silent" }, { env: {} });
      expect(again.adminToken).toBe(hub.adminToken);
      expect((await readFile(file, "utf8")).trim()).toBe(hub.adminToken);
      await again.close();
      const fromEnv = await createHub(
        { dataDir: dir.path, logLevel: "silent" },
        { env: { KENSA_ADMIN_TOKEN: "e".repeat(24) } },
      );
      expect(fromEnv.adminToken).toBe("e".repeat(24));
      await fromEnv.close();
    } finally {
      await dir.remove();
    }
  });
});
