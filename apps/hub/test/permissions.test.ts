import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PERMISSIONS, type Permission, ROLE_PERMISSIONS, ROLES, type Role } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteDeclaration } from "../src/http/route-catalog.js";
import { cookieCall, createUser, login, type TestUser } from "./auth-fixtures.js";
import { backends, seed, startHub, type TestHub } from "./helpers.js";

const list = await backends("permissions");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const doc = readFileSync(join(import.meta.dirname, "../../../docs/permissions.md"), "utf8");

/** A call whose permission check is what matters: `ok` are the statuses a permitted caller gets. */
interface Probe {
  method: string;
  path: (projectId: string) => string;
  body?: unknown;
  ok: number[];
}

// One representative call per permission. Writes aim at missing things or carry invalid bodies,
// so a permitted call is answered 400/404/422 without changing anything.
const PROBES: Record<Permission, Probe> = {
  "incidents:read": { method: "GET", path: () => "/api/v1/incidents", ok: [200] },
  "incidents:review": { method: "POST", path: () => "/api/v1/incidents/inc_nope/acknowledge", body: {}, ok: [404] },
  "samples:read": { method: "GET", path: (p) => `/api/v1/projects/${p}/samples`, ok: [200] },
  "samples:label": { method: "POST", path: () => "/api/v1/samples/smp_nope/labels", body: {}, ok: [404] },
  "datasets:read": { method: "GET", path: (p) => `/api/v1/projects/${p}/snapshots`, ok: [200] },
  "datasets:manage": { method: "POST", path: (p) => `/api/v1/projects/${p}/snapshots`, body: { nope: 1 }, ok: [400] },
  "runs:read": { method: "GET", path: () => "/api/v1/runs", ok: [200] },
  "runs:manage": { method: "POST", path: () => "/api/v1/runs/run_nope/cancel", body: {}, ok: [404] },
  "models:read": { method: "GET", path: () => "/api/v1/models", ok: [200] },
  "models:upload": { method: "POST", path: () => "/api/v1/models", body: {}, ok: [400] },
  "models:approve": { method: "POST", path: () => "/api/v1/models/mdl_nope/gate", body: {}, ok: [404] },
  "devices:read": { method: "GET", path: () => "/api/v1/devices", ok: [200] },
  "devices:manage": { method: "POST", path: () => "/api/v1/devices", body: { nope: 1 }, ok: [400] },
  "deployments:read": { method: "GET", path: () => "/api/v1/deployments", ok: [200] },
  "deployments:manage": { method: "POST", path: () => "/api/v1/deployments", body: { nope: 1 }, ok: [400] },
  "projects:read": { method: "GET", path: () => "/api/v1/projects", ok: [200] },
  "projects:manage": { method: "PATCH", path: () => "/api/v1/projects/prj_nope", body: { name: "x" }, ok: [404] },
  "users:manage": { method: "GET", path: () => "/api/v1/users", ok: [200] },
  "audit:read": { method: "GET", path: () => "/api/v1/audit", ok: [200] },
  "stats:read": { method: "GET", path: () => "/api/v1/stats", ok: [200] },
};

/** Status and error code only; a stream's body is not waited for. */
async function probe(
  httpUrl: string,
  auth: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; code: string | null }> {
  const headers: Record<string, string> = { authorization: auth };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${httpUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if ((res.headers.get("content-type") ?? "").includes("json")) {
    const json = (await res.json()) as { error?: { code?: string } };
    return { status: res.status, code: json?.error?.code ?? null };
  }
  await res.body?.cancel();
  return { status: res.status, code: null };
}

const peopleRoute = (r: RouteDeclaration) =>
  r.method !== "HEAD" && r.auth !== "public" && r.auth !== "device" && r.permission !== "authenticated";

describe.each(list)("the permission matrix ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  const users = new Map<Role, TestUser>();

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    ({ projectId } = await seed(t.call, "perms", [{ id: "perm-cam" }]));
    for (const role of ROLES)
      users.set(role, await createUser(t.httpUrl, t.call, role, `${role.replace(/_/g, "-")}-1`));
  });
  afterAll(async () => {
    await t.close();
  });

  it("finds a declaration on every route: a permission, or public, or devices only", () => {
    const undeclared = t.hub.routes
      .undeclared()
      .filter((r) => r.method !== "HEAD")
      .map((r) => `${r.method} ${r.url}`);
    expect(undeclared, "routes without config.permission (admin-only by default): annotate them").toEqual([]);
  });

  it("guards at least one route with every permission", () => {
    const used = new Set(t.hub.routes.list().map((r) => r.permission));
    expect(PERMISSIONS.filter((p) => !used.has(p))).toEqual([]);
  });

  it.each(PERMISSIONS)("%s: allowed for the roles that hold it, refused for the others", async (permission) => {
    const p = PROBES[permission];
    for (const role of ROLES) {
      const user = users.get(role)!;
      const r = await probe(t.httpUrl, `Bearer ${user.token}`, p.method, p.path(projectId), p.body);
      if (ROLE_PERMISSIONS[role].includes(permission)) {
        expect(p.ok, `${role} → ${p.method} ${p.path(projectId)}: ${r.status} ${r.code}`).toContain(r.status);
      } else {
        expect(r, `${role} → ${p.method} ${p.path(projectId)}`).toEqual({ status: 403, code: "KENSA_ERR_FORBIDDEN" });
      }
    }
  });

  // Every route, not just the probes: a role lacking a route's permission is refused before the
  // handler runs, whatever the route (undeclared routes are for admins only).
  it.each(ROLES)("%s: refused on every route whose permission the role lacks", async (role) => {
    const user = users.get(role)!;
    const refusals: string[] = [];
    for (const r of t.hub.routes.list().filter(peopleRoute)) {
      const allowed =
        r.permission === undefined
          ? role === "admin"
          : r.permission === "authenticated" || ROLE_PERMISSIONS[role].includes(r.permission);
      if (allowed) continue;
      const path = r.url.replace(/:[A-Za-z]+/g, "nope");
      const out = await probe(t.httpUrl, `Bearer ${user.token}`, r.method, path, r.method === "GET" ? undefined : {});
      if (out.status !== 403 || out.code !== "KENSA_ERR_FORBIDDEN") {
        refusals.push(`${r.method} ${r.url} → ${out.status} ${out.code}`);
      }
    }
    expect(refusals).toEqual([]);
  });

  it("holds a session to the same matrix as a token", async () => {
    const labeler = users.get("labeler")!;
    const { cookie } = await login(t.httpUrl, labeler.username, labeler.password);
    const call = cookieCall(t.httpUrl, cookie!);
    expect((await call("GET", "/api/v1/incidents")).status).toBe(200);
    const refused = await call("GET", "/api/v1/devices");
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({
      error: { code: "KENSA_ERR_FORBIDDEN", details: { permission: "devices:read", role: "labeler" } },
    });
  });

  it("keeps devices off people's routes and people off device routes", async () => {
    const e = await t.call<{ secret: string }>("POST", "/api/v1/devices", { body: { projectId, id: "perm-cam-2" } });
    const device = `Basic ${Buffer.from(`perm-cam-2:${e.json.secret}`).toString("base64")}`;
    expect(await probe(t.httpUrl, device, "GET", "/api/v1/incidents")).toEqual({
      status: 403,
      code: "KENSA_ERR_FORBIDDEN",
    });
    const admin = users.get("admin")!;
    expect((await probe(t.httpUrl, `Bearer ${admin.token}`, "PUT", "/api/v1/devices/perm-cam-2/frame")).status).toBe(
      403,
    );
  });

  it("serves the matrix to any signed-in person", async () => {
    const r = await users
      .get("safety_auditor")!
      .call<{ permissions: string[]; roles: Record<string, string[]> }>("GET", "/api/v1/auth/permissions");
    expect(r.json.permissions).toEqual([...PERMISSIONS]);
    for (const role of ROLES) expect(new Set(r.json.roles[role])).toEqual(new Set(ROLE_PERMISSIONS[role]));
    expect((await t.call("GET", "/api/v1/auth/permissions", { auth: null })).status).toBe(401);
  });

  it("documents every route it lists in docs/permissions.md as declared in the code", () => {
    const routes = t.hub.routes.list();
    const rows = [...doc.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) (\/[^`]*)`[^|]*\| ([^|]+) \|$/gm)];
    expect(rows.length).toBeGreaterThan(40);
    const wrong: string[] = [];
    for (const [, method, url, cell] of rows) {
      const r = routes.find((x) => x.method === method && x.url === url);
      const said = cell!.trim();
      const perm = /^`([a-z]+:[a-z]+)`/.exec(said)?.[1];
      const ok =
        r !== undefined &&
        (perm
          ? r.permission === perm
          : said.startsWith("public")
            ? r.auth === "public"
            : said.startsWith("authenticated")
              ? r.permission === "authenticated"
              : said.startsWith("device")
                ? r.auth === "device"
                : false);
      if (!ok) wrong.push(`${method} ${url}: doc says "${said}", code has ${JSON.stringify(r ?? "no route")}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe("docs/permissions.md", () => {
  it("shows the same matrix as ROLE_PERMISSIONS", () => {
    const header = doc.split("\n").find((l) => l.startsWith("| permission |"))!;
    const roles = [...header.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    expect(roles).toEqual([...ROLES]);
    const documented = new Map<string, string[]>();
    for (const line of doc.split("\n")) {
      const m = /^\| `([a-z]+:[a-z]+)` \|(.*)\|$/.exec(line);
      if (!m) continue;
      const cells = m[2]!.split("|").map((c) => c.trim());
      documented.set(
        m[1]!,
        ROLES.filter((_, i) => cells[i] === "✓"),
      );
    }
    expect([...documented.keys()]).toEqual([...PERMISSIONS]);
    for (const p of PERMISSIONS) {
      expect(documented.get(p), p).toEqual(ROLES.filter((r) => ROLE_PERMISSIONS[r].includes(p)));
    }
  });
});
