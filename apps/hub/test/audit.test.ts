import type { AuditEntry, AuditPage, CreatedToken, Deployment, Incident, ModelVersion, User } from "@kensa/contracts";
import { topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieCall, createUser, login, type TestUser } from "./auth-fixtures.js";
import { image, importArchive, pack } from "./datasets-fixtures.js";
import { backends, connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

const list = await backends("audit");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("the audit log ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let auditor: TestUser;
  let scientist: TestUser;
  let iot: TestUser;
  let site: TestUser;
  let incident: Incident;
  let model: ModelVersion;
  let deployment: Deployment;
  let importId: string;
  let snapshotId: string;
  let siteTokenId: string;
  let entries: AuditEntry[];

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    const s = await seed(t.call, "audited", [{ id: "aud-cam" }]);
    projectId = s.projectId;
    auditor = await createUser(t.httpUrl, t.call, "safety_auditor", "alice");
    scientist = await createUser(t.httpUrl, t.call, "data_scientist", "dora");
    iot = await createUser(t.httpUrl, t.call, "iot_engineer", "ivan");
    site = await createUser(t.httpUrl, t.call, "site_engineer", "sam");

    // sign-ins: one failure, one success, one sign-out
    expect((await login(t.httpUrl, "sam", "wrong-password")).status).toBe(401);
    const { cookie } = await login(t.httpUrl, "sam", site.password);
    const session = cookieCall(t.httpUrl, cookie!);

    // users admin: a role change there and back, a disable and enable
    await t.call("PATCH", `/api/v1/users/${scientist.id}`, { body: { role: "labeler" } });
    await t.call("PATCH", `/api/v1/users/${scientist.id}`, { body: { role: "data_scientist" } });
    await t.call<User>("PATCH", `/api/v1/users/${iot.id}`, { body: { disabled: true } });
    await t.call<User>("PATCH", `/api/v1/users/${iot.id}`, { body: { disabled: false } });

    // a token made and revoked by its own user
    const tok = await session<CreatedToken>("POST", `/api/v1/users/${site.id}/tokens`, { body: { name: "phone" } });
    siteTokenId = tok.json.id;
    expect((await session("DELETE", `/api/v1/tokens/${siteTokenId}`)).status).toBe(204);

    // an incident from a real device, acknowledged then confirmed by the site engineer
    const device = await connectDevice(t.mqttUrl, "aud-cam", s.secrets["aud-cam"]!);
    try {
      const ev = makeEvent("aud-cam", { label: "defect", score: 0.95 });
      await device.publishAsync(topics.events("aud-cam"), JSON.stringify(ev), { qos: 1 });
      await waitFor("incident", async () => {
        const r = await t.call<{ items: Incident[] }>("GET", `/api/v1/incidents?projectId=${projectId}`);
        incident = r.json.items.find((i) => i.eventId === ev.id)!;
        return incident !== undefined;
      });
    } finally {
      await device.endAsync(true);
    }
    expect((await session("POST", `/api/v1/incidents/${incident.id}/acknowledge`, { body: {} })).status).toBe(200);
    expect(
      (await session("POST", `/api/v1/incidents/${incident.id}/verdict`, { body: { verdict: "confirmed" } })).status,
    ).toBe(201);
    expect((await session("POST", "/api/v1/auth/logout", { body: {} })).status).toBe(204);

    // a model upload, a deployment, a dataset import and a snapshot, each by its role
    const blemish = buildBlemishModel();
    const form = new FormData();
    form.set("projectId", projectId);
    form.set("manifest", JSON.stringify(blemish.manifest));
    form.set("model", new Blob([blemish.onnx as BlobPart], { type: "application/octet-stream" }), "blemish.onnx");
    const up = await scientist.call<ModelVersion>("POST", "/api/v1/models", { raw: form });
    expect(up.status).toBe(201);
    model = up.json;
    const dep = await iot.call<Deployment>("POST", "/api/v1/deployments", {
      body: { modelVersionId: model.id, target: { deviceIds: ["aud-cam"] } },
    });
    expect(dep.status).toBe(201);
    deployment = dep.json;
    const files = [];
    for (let i = 0; i < 6; i++) files.push({ path: `${i % 2 ? "ok" : "defect"}/${i}.jpg`, data: await image(i) });
    const imp = await importArchive(scientist.call, projectId, pack(files, "zip"), { format: "imagefolder" });
    expect(imp.status).toBe(200);
    importId = imp.json.id;
    expect(imp.json.by).toBe("dora");
    const snap = await scientist.call<{ id: string; by: string }>("POST", `/api/v1/projects/${projectId}/snapshots`, {
      body: {},
    });
    expect(snap.status).toBe(201);
    expect(snap.json.by).toBe("dora");
    snapshotId = snap.json.id;

    const page = await auditor.call<AuditPage>("GET", "/api/v1/audit?limit=1000");
    expect(page.status).toBe(200);
    entries = page.json.items;
  });
  afterAll(async () => {
    await t.close();
  });

  const find = (action: string, actor?: string) =>
    entries.filter((e) => e.action === action && (actor === undefined || e.actor === actor));

  it("records sign-ins, failures and sign-outs with the address", () => {
    const failed = find("auth.login_failed", "sam");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ actorKind: "anonymous", details: { reason: "wrong password" } });
    expect(failed[0]!.ip).toMatch(/127\.0\.0\.1/);
    expect(find("auth.login", "sam")[0]).toMatchObject({ actorKind: "user", targetType: "user", targetId: site.id });
    expect(find("auth.logout", "sam")).toHaveLength(1);
  });

  it("records users created, role changes, disabling and tokens", () => {
    expect(find("user.create", "admin-token").map((e) => e.details.username)).toEqual(
      expect.arrayContaining(["alice", "dora", "ivan", "sam"]),
    );
    const roles = find("user.role_change", "admin-token").filter((e) => e.targetId === scientist.id);
    expect(roles.map((e) => e.details).reverse()).toEqual([
      { username: "dora", from: "data_scientist", to: "labeler" },
      { username: "dora", from: "labeler", to: "data_scientist" },
    ]);
    expect(find("user.disable")[0]).toMatchObject({ targetId: iot.id, actorKind: "admin-token" });
    expect(find("user.enable")[0]).toMatchObject({ targetId: iot.id });
    expect(find("token.create", "sam")[0]).toMatchObject({ targetType: "token", targetId: siteTokenId });
    expect(find("token.revoke", "sam")[0]).toMatchObject({ targetType: "token", targetId: siteTokenId });
  });

  it("records reviews, model uploads, deployments, imports and snapshots by who did them", () => {
    expect(find("incident.acknowledge", "sam")[0]).toMatchObject({ targetType: "incident", targetId: incident.id });
    expect(find("incident.verdict", "sam")[0]).toMatchObject({
      targetId: incident.id,
      details: { verdict: "confirmed", by: "sam" },
    });
    expect(find("model.upload", "dora")[0]).toMatchObject({ targetType: "model", targetId: model.id });
    expect(find("deployment.create", "ivan")[0]).toMatchObject({
      targetType: "deployment",
      targetId: deployment.id,
      details: { modelVersionId: model.id, deviceIds: ["aud-cam"] },
    });
    expect(find("dataset.import", "dora")[0]).toMatchObject({ targetType: "import", targetId: importId });
    expect(find("dataset.snapshot", "dora")[0]).toMatchObject({
      targetType: "snapshot",
      targetId: snapshotId,
      details: { created: true },
    });
  });

  it("lists newest first, filters by action, actor and target, and pages with before", async () => {
    const ids = entries.map((e) => e.id);
    expect([...ids].sort().reverse()).toEqual(ids);
    const byAction = await auditor.call<AuditPage>("GET", "/api/v1/audit?action=user.role_change");
    expect(byAction.json.items.every((e) => e.action === "user.role_change")).toBe(true);
    expect(byAction.json.items).toHaveLength(2);
    const byActor = await auditor.call<AuditPage>("GET", "/api/v1/audit?actor=sam&limit=1000");
    expect(new Set(byActor.json.items.map((e) => e.actor))).toEqual(new Set(["sam"]));
    const byTarget = await auditor.call<AuditPage>("GET", `/api/v1/audit?target=incident:${incident.id}`);
    expect(byTarget.json.items.map((e) => e.action)).toEqual(["incident.verdict", "incident.acknowledge"]);
    expect((await auditor.call<AuditPage>("GET", "/api/v1/audit?target=token")).json.items).toHaveLength(
      entries.filter((e) => e.targetType === "token").length,
    );

    const first = await auditor.call<AuditPage>("GET", "/api/v1/audit?limit=3");
    expect(first.json.items.map((e) => e.id)).toEqual(ids.slice(0, 3));
    expect(first.json.next).toBe(ids[2]);
    const second = await auditor.call<AuditPage>("GET", `/api/v1/audit?limit=3&before=${first.json.next}`);
    expect(second.json.items.map((e) => e.id)).toEqual(ids.slice(3, 6));
    const last = await auditor.call<AuditPage>("GET", `/api/v1/audit?limit=1000&before=${ids[ids.length - 2]}`);
    expect(last.json).toEqual({ items: [entries[entries.length - 1]], next: null });
  });

  it("lets only auditors and admins read it, and offers no way to change it", async () => {
    expect((await t.call("GET", "/api/v1/audit")).status).toBe(200);
    for (const who of [scientist, iot, site]) {
      const r = await who.call("GET", "/api/v1/audit");
      expect(r.status).toBe(403);
      expect(r.json).toMatchObject({ error: { code: "KENSA_ERR_FORBIDDEN" } });
    }
    const auditRoutes = t.hub.routes.list().filter((r) => r.url.startsWith("/api/v1/audit"));
    expect(new Set(auditRoutes.map((r) => r.method))).toEqual(new Set(["GET", "HEAD"]));
  });
});
