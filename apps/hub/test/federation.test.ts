import { type Desired, type Incident, type ModelVersion, topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UplinkProxy } from "./federation-fixtures.js";
import { backends, basic, connectDevice, JPEG_TINY, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

const list = await backends("federation");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const model = buildBlemishModel();
/** long enough for several sync rounds at FAST's interval */
const syncs = () => new Promise((resolve) => setTimeout(resolve, 1500));
const FAST = { intervalSeconds: 0.2, maxBackoffSeconds: 0.4, settleMs: 50, timeoutMs: 2000 };

/**
 * Two real hubs (each with its embedded broker and SQLite): a central one, and a site hub that
 * reaches it through a proxy the test cuts and restores. A device over MQTT sits behind the site.
 */
describe.each(list)("site hub ⇄ central hub (central on $name)", (backend) => {
  let central: TestHub;
  let site: TestHub;
  let proxy: UplinkProxy;
  let siteProjectId: string;
  let secret: string;
  let siteToken: string;

  beforeAll(async () => {
    central = await startHub({ database: backend.database(), federation: FAST });
    const p = await central.call<{ id: string }>("POST", "/api/v1/projects", {
      body: { slug: "blemish", name: "Blemish", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    expect(p.status).toBe(201);
    const s = await central.call<{ token: string }>("POST", "/api/v1/sites", {
      body: { id: "plant-a", name: "Plant A", projects: ["blemish"] },
    });
    expect(s.status).toBe(201);
    siteToken = s.json.token;
    proxy = new UplinkProxy(Number(new URL(central.httpUrl).port));
    await proxy.open();
    site = await startHub({
      federation: {
        ...FAST,
        central: { url: proxy.url, siteId: "plant-a", token: s.json.token },
        upstream: { frames: true, frameWaitMs: 20_000 },
      },
    });
    // the site's own project of the same slug, with its own notifications and deploy target
    const seeded = await seed(site.call, "blemish", [{ id: "cam-1", tags: ["line-1"] }], {
      notifications: {
        email: [],
        webhooks: [{ url: "http://127.0.0.1:9/hook", secret: "s3cret-for-the-test" }],
        cooldownSec: 0,
      },
    });
    siteProjectId = seeded.projectId;
    secret = seeded.secrets["cam-1"]!;
    const ts = await site.call("PUT", `/api/v1/projects/${siteProjectId}/training-settings`, {
      body: { autoDeploy: { tags: ["line-1"] } },
    });
    expect(ts.status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await site?.close();
    await proxy?.cut();
    await central?.close();
  });

  it("refuses a site call without the site's token", async () => {
    const r = await central.call<{ error: { code: string } }>("GET", "/api/v1/federation/sites/plant-a/models", {
      auth: "Bearer kensa_site_nope",
    });
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe("KENSA_ERR_SITE_TOKEN_INVALID");
    // another site's valid token does not open this site's routes
    const b = await central.call<{ token: string }>("POST", "/api/v1/sites", {
      body: { id: "plant-b", name: "Plant B", projects: [] },
    });
    const cross = await central.call("GET", "/api/v1/federation/sites/plant-a/models", {
      auth: `Bearer ${b.json.token}`,
    });
    expect(cross.status).toBe(401);
    const own = await central.call("GET", "/api/v1/federation/sites/plant-b/models", {
      auth: `Bearer ${b.json.token}`,
    });
    expect(own.status).toBe(200);
  });

  it("delivers a model approved on central to the site's registry and its device's desired state", async () => {
    const form = new FormData();
    const projects = await central.call<{ items: Array<{ id: string }> }>("GET", "/api/v1/projects");
    form.set("projectId", projects.json.items[0]!.id);
    form.set("manifest", JSON.stringify(model.manifest));
    form.set("model", new Blob([model.onnx as BlobPart], { type: "application/octet-stream" }), "m.onnx");
    const up = await central.call<ModelVersion>("POST", "/api/v1/models", { raw: form });
    expect(up.status).toBe(201);
    const ok = await central.call("POST", `/api/v1/models/${up.json.id}/approve`, {
      body: { by: "qa", reason: "good" },
    });
    expect(ok.status).toBe(200);

    const local = await waitFor("the central model on the site", async () => {
      const r = await site.call<{ items: ModelVersion[] }>("GET", `/api/v1/models?projectId=${siteProjectId}`);
      return r.json.items.find((m) => m.source === `central:${up.json.id}` && m.champion);
    });
    expect(local.sha256).toBe(up.json.sha256);
    expect(local.stage).toBe("approved");

    const c = await connectDevice(site.mqttUrl, "cam-1", secret);
    try {
      // the deployment follows the approval: the retained state may still be the one before it
      const seen: Desired[] = [];
      c.on("message", (t, payload) => {
        if (t === topics.desired("cam-1")) seen.push(JSON.parse(payload.toString()) as Desired);
      });
      await c.subscribeAsync(topics.desired("cam-1"), { qos: 1 });
      const desired = await waitFor("the device's desired state naming the model", () =>
        seen.find((d) => JSON.stringify(d).includes(local.id)),
      );
      // the device downloads its bundle from the site, not from central
      expect(JSON.stringify(desired)).toContain(new URL(site.httpUrl).host);
      expect(JSON.stringify(desired)).not.toContain(new URL(central.httpUrl).host);
    } finally {
      await c.endAsync(true);
    }
    // pulled once: a later sync registers nothing again
    await syncs();
    const again = await site.call<{ items: ModelVersion[] }>("GET", `/api/v1/models?projectId=${siteProjectId}`);
    expect(again.json.items.filter((m) => m.source === `central:${up.json.id}`)).toHaveLength(1);
  }, 60_000);

  /** raises `n` incidents from the site's device and decides a verdict on the first */
  async function raiseAndDecide(n: number): Promise<Incident[]> {
    const c = await connectDevice(site.mqttUrl, "cam-1", secret);
    const ids: string[] = [];
    try {
      for (let i = 0; i < n; i++) {
        // the first one with its frame, which the device uploads after the event
        const ev = makeEvent("cam-1", { label: "defect", score: 0.95, media: i === 0 });
        ids.push(ev.id);
        await c.publishAsync(topics.events("cam-1"), JSON.stringify(ev), { qos: 1 });
        if (i === 0) {
          // later than the settle time: the incident waits for its frame before it goes up
          await new Promise((r) => setTimeout(r, 300));
          const m = await site.call("PUT", `/api/v1/events/${ev.id}/media`, {
            auth: basic("cam-1", secret),
            headers: { "content-type": "image/jpeg" },
            raw: JPEG_TINY,
          });
          expect(m.status).toBe(201);
        }
      }
    } finally {
      await c.endAsync();
    }
    const incidents = await waitFor("the site's incidents", async () => {
      const r = await site.call<{ items: Incident[] }>("GET", "/api/v1/incidents?limit=1000");
      // in the order raised; the first has its frame linked
      const mine = ids.map((id) => r.json.items.find((x) => x.eventId === id));
      return mine.every((x) => x !== undefined) && mine[0]!.mediaSha256 ? (mine as Incident[]) : undefined;
    });
    const v = await site.call("POST", `/api/v1/incidents/${incidents[0]!.id}/verdict`, {
      body: { verdict: "false_alarm" },
    });
    expect(v.status).toBe(201);
    return incidents;
  }

  async function centralSiteIncidents(): Promise<Incident[]> {
    const r = await central.call<{ items: Incident[] }>("GET", "/api/v1/incidents?limit=1000");
    return r.json.items.filter((i) => i.site?.id === "plant-a");
  }

  let before: Incident[] = [];
  it("pushes the site's incidents and verdicts to central, each once", async () => {
    before = await raiseAndDecide(3);
    const seen = await waitFor("the site's incidents on central", async () => {
      const list = await centralSiteIncidents();
      return list.length === 3 && list.some((i) => i.verdicts.length === 1) ? list : undefined;
    });
    expect(seen.map((i) => i.site!.incidentId).sort()).toEqual(before.map((i) => i.id).sort());
    const decided = seen.find((i) => i.site!.incidentId === before[0]!.id)!;
    expect(decided.status).toBe("false_alarm");
    expect(decided.verdicts[0]!.verdict).toBe("false_alarm");
    // its frame went up with it (upstream.frames) and central serves it
    expect(decided.mediaSha256).toBe(before[0]!.mediaSha256 ?? "missing on the site");
    const frame = await fetch(`${central.httpUrl}/api/v1/incidents/${decided.id}/media`, {
      headers: { authorization: `Bearer ${central.hub.adminToken}` },
    });
    expect(frame.status).toBe(200);
    expect(Buffer.from(await frame.arrayBuffer()).equals(JPEG_TINY)).toBe(true);
    // a batch resent (as after a cut mid-request) stores nothing twice
    const resend = await central.call<{ ok: number; duplicates: number; failed: unknown[] }>(
      "POST",
      "/api/v1/federation/sites/plant-a/incidents",
      {
        auth: `Bearer ${siteToken}`,
        body: {
          items: before.map((i) => ({
            id: i.id,
            projectSlug: "blemish",
            deviceId: i.deviceId,
            eventId: i.eventId,
            status: i.status,
            label: i.label,
            score: i.score,
            rule: i.rule,
            modelVersionId: i.modelVersionId,
            bundleSha256: i.bundleSha256,
            frameMeta: i.frameMeta,
            mediaSha256: null,
            createdAt: i.createdAt,
            acknowledgedBy: null,
            acknowledgedAt: null,
          })),
        },
      },
    );
    expect(resend.json).toEqual({ ok: 0, duplicates: 3, failed: [] });
    expect(await centralSiteIncidents()).toHaveLength(3);
    // no notification is planned on central for a site's incident (the site told its people)
    const n = await central.call<{ items: unknown[] }>("GET", `/api/v1/notifications?incidentId=${decided.id}`);
    expect(n.json.items).toHaveLength(0);
  }, 60_000);

  it("keeps working through an uplink cut and delivers everything once when it is back", async () => {
    await proxy.cut();
    const during = await raiseAndDecide(4);
    // the site's own loop went on: incidents stored, notifications planned, verdict taken
    for (const inc of during) {
      const n = await site.call<{ items: unknown[] }>("GET", `/api/v1/notifications?incidentId=${inc.id}`);
      expect(n.json.items.length).toBeGreaterThan(0);
    }
    const status = await waitFor("the site to notice the cut", async () => {
      const r = await site.call<{ uplink: string; downSince: string | null }>("GET", "/api/v1/federation/status");
      return r.json.uplink === "down" ? r.json : undefined;
    });
    expect(status.downSince).not.toBeNull();
    // the site is degraded, not down: /health answers 200 and names the cut uplink
    const health = await site.call<{ status: string; problems: Array<{ code: string }> }>("GET", "/health");
    expect(health.status).toBe(200);
    expect(health.json.status).toBe("degraded");
    expect(health.json.problems.map((p) => p.code)).toContain("KENSA_ERR_FEDERATION_UPLINK_DOWN");
    expect((await centralSiteIncidents()).length).toBe(3);

    await proxy.open();
    const all = await waitFor("every site incident on central", async () => {
      const list = await centralSiteIncidents();
      return list.length >= 7 && list.filter((i) => i.verdicts.length > 0).length >= 2 ? list : undefined;
    });
    // a few more syncs after recovery must add nothing
    await syncs();
    const final = await centralSiteIncidents();
    expect(final).toHaveLength(7);
    const bySiteId = new Map<string, number>();
    for (const i of final) bySiteId.set(i.site!.incidentId, (bySiteId.get(i.site!.incidentId) ?? 0) + 1);
    expect([...bySiteId.values()].every((c) => c === 1)).toBe(true);
    expect([...bySiteId.keys()].sort()).toEqual([...before, ...during].map((i) => i.id).sort());
    expect(all.flatMap((i) => i.verdicts)).toHaveLength(2);
    const up = await site.call<{ uplink: string }>("GET", "/api/v1/federation/status");
    expect(up.json.uplink).toBe("up");
    const sites = await central.call<{ items: Array<{ id: string; incidents: number; verdicts: number }> }>(
      "GET",
      "/api/v1/sites",
    );
    const a = sites.json.items.find((x) => x.id === "plant-a");
    expect(a).toMatchObject({ incidents: 7, verdicts: 2 });
  }, 90_000);

  it("shows a refusal by central (a project central does not serve for the site) and keeps the rest", async () => {
    const { secrets } = await seed(site.call, "local-only", [{ id: "cam-x" }]);
    const c = await connectDevice(site.mqttUrl, "cam-x", secrets["cam-x"]!);
    try {
      const ev = makeEvent("cam-x", { label: "defect", score: 0.99 });
      await c.publishAsync(topics.events("cam-x"), JSON.stringify(ev), { qos: 1 });
    } finally {
      await c.endAsync();
    }
    const status = await waitFor("the refusal in the site's status", async () => {
      const r = await site.call<{ uplink: string; lastError: { code: string } | null }>(
        "GET",
        "/api/v1/federation/status",
      );
      return r.json.lastError ? r.json : undefined;
    });
    expect(status).toMatchObject({ uplink: "up", lastError: { code: "KENSA_ERR_SITE_PROJECT_UNKNOWN" } });
    expect(await centralSiteIncidents()).toHaveLength(7);
  }, 60_000);
});
