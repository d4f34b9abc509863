import type { Incident, SiteIncident, User } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestUser } from "./auth-fixtures.js";
import { backends, startHub, type TestHub } from "./helpers.js";

const list = await backends("site-scope");

function siteIncident(id: string, at: string): SiteIncident {
  return {
    id,
    projectSlug: "blemish",
    deviceId: "cam-1",
    eventId: `evt-${id}`,
    status: "open",
    label: "defect",
    score: 0.9,
    rule: "threshold",
    modelVersionId: "mdl_site",
    bundleSha256: "b".repeat(64),
    frameMeta: {},
    mediaSha256: null,
    createdAt: at,
    acknowledgedBy: null,
    acknowledgedAt: null,
  };
}

/**
 * A person scoped to sites on a central hub: incidents of other sites (and the hub's own) are
 * absent for them in lists, reads, frames, verdicts and acknowledgements; unscoped people and
 * the admin token see everything.
 */
describe.each(list)("site scope on a central hub ($name)", (backend) => {
  let central: TestHub;
  let scoped: TestUser;
  let everywhere: TestUser;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    central = await startHub({ database: backend.database(), federation: { settleMs: 50 } });
    const p = await central.call("POST", "/api/v1/projects", {
      body: { slug: "blemish", name: "Blemish", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    expect(p.status).toBe(201);
    for (const site of ["plant-a", "plant-b"]) {
      const s = await central.call<{ token: string }>("POST", "/api/v1/sites", {
        body: { id: site, name: site, projects: ["blemish"] },
      });
      expect(s.status).toBe(201);
      const items = [siteIncident(`${site}-1`, "2026-12-01T10:00:00.000Z")];
      const pushed = await central.call("POST", `/api/v1/federation/sites/${site}/incidents`, {
        body: { items },
        auth: `Bearer ${s.json.token}`,
      });
      expect(pushed.status).toBe(200);
    }
    const all = await central.call<{ items: Incident[] }>("GET", "/api/v1/incidents");
    for (const i of all.json.items) ids[i.site!.id] = i.id;
    expect(Object.keys(ids).sort()).toEqual(["plant-a", "plant-b"]);
    scoped = await createUser(central.httpUrl, central.call, "site_engineer", "eng-a");
    everywhere = await createUser(central.httpUrl, central.call, "site_engineer", "eng-all");
    const scope = await central.call<User>("PATCH", `/api/v1/users/${scoped.id}`, { body: { sites: ["plant-a"] } });
    expect(scope.status).toBe(200);
    expect(scope.json.sites).toEqual(["plant-a"]);
  }, 60_000);
  afterAll(async () => {
    await central?.close();
    await backend.cleanup();
  });

  it("lists only the scoped sites' incidents, and filters by site for everyone", async () => {
    const mine = await scoped.call<{ items: Incident[] }>("GET", "/api/v1/incidents");
    expect(mine.json.items.map((i) => i.site?.id)).toEqual(["plant-a"]);
    const asked = await scoped.call<{ items: Incident[] }>("GET", "/api/v1/incidents?siteId=plant-b");
    expect(asked.json.items).toEqual([]);
    const all = await everywhere.call<{ items: Incident[] }>("GET", "/api/v1/incidents");
    expect(all.json.items.map((i) => i.site?.id).sort()).toEqual(["plant-a", "plant-b"]);
    const b = await everywhere.call<{ items: Incident[] }>("GET", "/api/v1/incidents?siteId=plant-b");
    expect(b.json.items.map((i) => i.id)).toEqual([ids["plant-b"]]);
    const local = await central.call<{ items: Incident[] }>("GET", "/api/v1/incidents?siteId=local");
    expect(local.json.items).toEqual([]);
  });

  it("reads, frames, acknowledgements and verdicts of other sites' incidents answer 404", async () => {
    const other = ids["plant-b"]!;
    for (const [method, path, body] of [
      ["GET", `/api/v1/incidents/${other}`, undefined],
      ["GET", `/api/v1/incidents/${other}/media`, undefined],
      ["POST", `/api/v1/incidents/${other}/acknowledge`, {}],
      ["POST", `/api/v1/incidents/${other}/verdict`, { verdict: "confirmed" }],
    ] as const) {
      const r = await scoped.call<{ error: { code: string } }>(method, path, body === undefined ? {} : { body });
      expect({ path, status: r.status, code: r.json.error?.code }).toEqual({
        path,
        status: 404,
        code: "KENSA_ERR_INCIDENT_NOT_FOUND",
      });
    }
    // nothing changed on the incident the scoped person could not see
    const untouched = await central.call<Incident>("GET", `/api/v1/incidents/${other}`);
    expect(untouched.json.status).toBe("open");
    expect(untouched.json.verdicts).toEqual([]);
    // their own site's incident they may decide
    const own = await scoped.call<{ verdict: string }>("POST", `/api/v1/incidents/${ids["plant-a"]}/verdict`, {
      body: { verdict: "confirmed" },
    });
    expect(own.status).toBe(201);
  });

  it("lists only the scoped sites, and another site's rollouts read as absent", async () => {
    const sites = await scoped.call<{ items: Array<{ id: string }> }>("GET", "/api/v1/sites");
    expect(sites.json.items.map((x) => x.id)).toEqual(["plant-a"]);
    // an IoT engineer scoped to plant-a may read rollouts (deployments:read), but only plant-a's
    const iot = await createUser(central.httpUrl, central.call, "iot_engineer", "iot-a");
    await central.call("PATCH", `/api/v1/users/${iot.id}`, { body: { sites: ["plant-a"] } });
    expect((await iot.call("GET", "/api/v1/sites/plant-a/rollouts")).status).toBe(200);
    const other = await iot.call<{ error: { code: string } }>("GET", "/api/v1/sites/plant-b/rollouts");
    expect(other.status).toBe(404);
    expect(other.json.error.code).toBe("KENSA_ERR_SITE_NOT_FOUND");
    const all = await everywhere.call<{ items: Array<{ id: string }> }>("GET", "/api/v1/sites");
    expect(all.json.items.map((x) => x.id).sort()).toEqual(["plant-a", "plant-b"]);
  });

  it("refuses a scope naming a site the hub does not know, and lifts a scope with null", async () => {
    const bad = await central.call<{ error: { code: string } }>("PATCH", `/api/v1/users/${everywhere.id}`, {
      body: { sites: ["plant-a", "nowhere"] },
    });
    expect(bad.status).toBe(404);
    expect(bad.json.error.code).toBe("KENSA_ERR_SITE_NOT_FOUND");
    const created = await central.call<User & { error?: { code: string } }>("POST", "/api/v1/users", {
      body: { username: "eng-x", displayName: "X", role: "labeler", password: "pw-eng-x-0123456789", sites: ["x"] },
    });
    expect(created.json.error?.code).toBe("KENSA_ERR_SITE_NOT_FOUND");
    const lifted = await central.call<User>("PATCH", `/api/v1/users/${scoped.id}`, { body: { sites: null } });
    expect(lifted.json.sites).toBeNull();
    const all = await scoped.call<{ items: Incident[] }>("GET", "/api/v1/incidents");
    expect(all.json.items).toHaveLength(2);
  });
});
