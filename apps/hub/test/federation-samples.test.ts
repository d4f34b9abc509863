import {
  type FederationStatus,
  type Incident,
  type MaskUploaded,
  type Sample,
  type SampleWithHistory,
  type Site,
  type SnapshotManifest,
  topics,
} from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "../../cli/test/run-kensa.js";
import { UplinkProxy } from "./federation-fixtures.js";
import { image, maskPng, siteSampleOf } from "./federation-samples-fixtures.js";
import {
  backends,
  basic,
  connectDevice,
  JPEG_TINY,
  makeEvent,
  projectBody,
  seed,
  startHub,
  type TestHub,
} from "./helpers.js";

const list = await backends("federation_samples");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

/** long enough for several sync rounds at FAST's interval */
const syncs = () => new Promise((resolve) => setTimeout(resolve, 1500));
const FAST = { intervalSeconds: 0.2, maxBackoffSeconds: 0.4, settleMs: 50, timeoutMs: 2000 };
const SEG = { task: "segmentation", labels: ["background", "scratch", "dent"], okLabels: ["background"] };

/**
 * Two real hubs: a central one, and a site hub behind a proxy the test cuts and restores. The
 * site's labelled samples (uploads labelled in the console, masks, verdicts' samples) go into
 * central's datasets once each, relabels follow, and the site's field figures reach its record.
 */
describe.each(list)("labelled samples and field figures from a site (central on $name)", (backend) => {
  let central: TestHub;
  let site: TestHub;
  let proxy: UplinkProxy;
  let siteToken: string;
  let centralParts: string;
  let centralBlemish: string;
  let siteParts: string;
  let siteBlemish: string;
  let secret: string;

  beforeAll(async () => {
    central = await startHub({ database: backend.database(), federation: FAST });
    const parts = await central.call<{ id: string }>("POST", "/api/v1/projects", { body: projectBody("parts", SEG) });
    const blemish = await central.call<{ id: string }>("POST", "/api/v1/projects", { body: projectBody("blemish") });
    expect([parts.status, blemish.status]).toEqual([201, 201]);
    centralParts = parts.json.id;
    centralBlemish = blemish.json.id;
    const s = await central.call<{ token: string }>("POST", "/api/v1/sites", {
      body: { id: "plant-a", name: "Plant A", projects: ["parts", "blemish"] },
    });
    expect(s.status).toBe(201);
    siteToken = s.json.token;
    proxy = new UplinkProxy(Number(new URL(central.httpUrl).port));
    await proxy.open();
    site = await startHub({
      federation: {
        ...FAST,
        // small pushes: the stream moves in several steps, and a cut falls between them
        batch: 2,
        central: { url: proxy.url, siteId: "plant-a", token: siteToken },
        upstream: { frames: true, frameWaitMs: 10_000 },
      },
    });
    const p = await site.call<{ id: string }>("POST", "/api/v1/projects", { body: projectBody("parts", SEG) });
    siteParts = p.json.id;
    const seeded = await seed(site.call, "blemish", [{ id: "cam-1" }]);
    siteBlemish = seeded.projectId;
    secret = seeded.secrets["cam-1"]!;
  }, 60_000);
  afterAll(async () => {
    await site?.close();
    await proxy?.cut();
    await central?.close();
  });

  /** uploads an image to the site's project; labelled when `classes` are given */
  async function upload(projectId: string, classes?: string): Promise<Sample> {
    const q = classes ? `?classes=${classes}` : "";
    const r = await site.call<Sample>("POST", `/api/v1/projects/${projectId}/samples${q}`, {
      headers: { "content-type": "image/jpeg" },
      raw: await image(),
    });
    expect(r.status).toBe(201);
    return r.json;
  }

  async function label(sampleId: string, content: Record<string, unknown>): Promise<SampleWithHistory> {
    const r = await site.call<SampleWithHistory>("POST", `/api/v1/samples/${sampleId}/labels`, { body: { content } });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json;
  }

  async function uploadMask(sampleId: string, x0: number): Promise<string> {
    const form = new FormData();
    form.set("mask", new Blob([(await maskPng(x0)) as Uint8Array<ArrayBuffer>], { type: "image/png" }), "m.png");
    const r = await site.call<MaskUploaded>("POST", `/api/v1/samples/${sampleId}/masks`, { raw: form });
    expect(r.status).toBe(201);
    return r.json.sha256;
  }

  /** central's samples pushed by plant-a in one project, with their history */
  async function fromSite(projectId: string): Promise<SampleWithHistory[]> {
    const r = await central.call<{ items: Sample[] }>(
      "GET",
      `/api/v1/projects/${projectId}/samples?source=site:plant-a&limit=1000`,
    );
    expect(r.status).toBe(200);
    return Promise.all(
      r.json.items.map(async (s) => (await central.call<SampleWithHistory>("GET", `/api/v1/samples/${s.id}`)).json),
    );
  }

  /** the site's labelled samples of a project, by image sha256 → current label hash */
  async function siteLabelled(projectId: string): Promise<Map<string, string>> {
    const r = await site.call<{ items: Sample[] }>("GET", `/api/v1/projects/${projectId}/samples?limit=1000`);
    return new Map(r.json.items.filter((s) => s.label && s.image).map((s) => [s.image!.sha256, s.label!.sha256]));
  }

  /** central holds each of the site's labelled samples once, with the site's current label */
  async function mirrored(siteProject: string, centralProject: string): Promise<SampleWithHistory[] | undefined> {
    const want = await siteLabelled(siteProject);
    const got = await fromSite(centralProject);
    if (got.length !== want.size) return undefined;
    for (const s of got) if (want.get(s.image!.sha256) !== s.label?.sha256) return undefined;
    return got;
  }

  let first: SampleWithHistory[] = [];
  let maskSha = "";
  it("pushes the site's labelled samples into central's project once, with image and masks", async () => {
    const a = await upload(siteParts);
    const b = await upload(siteParts);
    await upload(siteParts); // never labelled: stays on the site
    maskSha = await uploadMask(a.id, 4);
    await label(a.id, { classes: ["scratch"], objects: [{ label: "scratch", mask: maskSha }] });
    await label(b.id, { classes: ["dent"], objects: [{ label: "dent", box: { x: 2, y: 2, w: 10, h: 8 } }] });

    first = await waitFor("the site's labelled samples on central", () => mirrored(siteParts, centralParts));
    expect(first).toHaveLength(2);
    for (const s of first) {
      expect(s.provenance.source).toBe("site:plant-a");
      expect(s.revisions).toHaveLength(1);
    }
    const withMask = first.find((s) => s.label!.content.objects.some((o) => o.mask))!;
    expect(withMask.label!.content.objects[0]).toEqual({ label: "scratch", mask: maskSha });
    // central stored the image and the mask (sha256-checked) and serves them
    const img = await fetch(`${central.httpUrl}/api/v1/samples/${withMask.id}/image`, {
      headers: { authorization: `Bearer ${central.hub.adminToken}` },
    });
    expect(img.status).toBe(200);
    const siteImg = await fetch(`${site.httpUrl}/api/v1/samples/${a.id}/image`, {
      headers: { authorization: `Bearer ${site.hub.adminToken}` },
    });
    expect(Buffer.from(await img.arrayBuffer()).equals(Buffer.from(await siteImg.arrayBuffer()))).toBe(true);
    const mask = await central.call("GET", `/api/v1/masks/${maskSha}`);
    expect(mask.status).toBe(200);
    // more syncs send nothing again
    await syncs();
    expect(await fromSite(centralParts)).toHaveLength(2);
    const sites = await central.call<{ items: Site[] }>("GET", "/api/v1/sites");
    expect(sites.json.items.find((x) => x.id === "plant-a")?.samples).toBe(2);
  }, 60_000);

  it("updates central's label when the site relabels, as a new revision of the same sample", async () => {
    const siteSamples = await site.call<{ items: Sample[] }>("GET", `/api/v1/projects/${siteParts}/samples`);
    const target = siteSamples.json.items.find((s) => s.label?.content.classes.includes("dent"))!;
    const relabelled = await label(target.id, {
      classes: ["dent", "scratch"],
      objects: [
        { label: "dent", box: { x: 2, y: 2, w: 10, h: 8 } },
        { label: "scratch", box: { x: 14, y: 4, w: 6, h: 6 } },
      ],
    });
    const got = await waitFor("the relabel on central", () => mirrored(siteParts, centralParts));
    expect(got).toHaveLength(2);
    const same = got.find((s) => s.image!.sha256 === target.image!.sha256)!;
    expect(same.id).toBe(first.find((s) => s.image!.sha256 === target.image!.sha256)!.id);
    expect(same.label!.sha256).toBe(relabelled.label!.sha256);
    expect(same.revisions.map((r) => r.rev)).toEqual([1, 2]);
  }, 60_000);

  it("delivers every sample once with its current label through a cut, and a resent batch adds nothing", async () => {
    await proxy.cut();
    const made: Sample[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await upload(siteParts);
      await label(s.id, { classes: ["scratch"], objects: [{ label: "scratch", box: { x: 1, y: 1, w: 5 + i, h: 5 } }] });
      made.push(s);
    }
    // relabelled twice while the uplink is down: central gets the last label
    await label(made[0]!.id, { classes: ["dent"], objects: [{ label: "dent", box: { x: 3, y: 3, w: 4, h: 4 } }] });
    const last = await label(made[0]!.id, {
      classes: ["dent"],
      objects: [{ label: "dent", box: { x: 3, y: 3, w: 9, h: 9 } }],
    });
    await waitFor("the site to notice the cut", async () => {
      const r = await site.call<FederationStatus>("GET", "/api/v1/federation/status");
      return r.json.uplink === "down" ? true : undefined;
    });
    expect(await fromSite(centralParts)).toHaveLength(2);

    // as if a push reached central and its reply was lost in the cut: central already has these
    const lost = await Promise.all(
      made.slice(1, 3).map(async (s) => (await site.call<SampleWithHistory>("GET", `/api/v1/samples/${s.id}`)).json),
    );
    const direct = (path: string, init: { body?: unknown; raw?: Buffer }) =>
      central.call<{ ok: number; duplicates: number; failed: unknown[] }>(
        init.raw ? "PUT" : "POST",
        `/api/v1/federation/sites/plant-a/${path}`,
        {
          auth: `Bearer ${siteToken}`,
          ...(init.raw ? { raw: init.raw, headers: { "content-type": "application/octet-stream" } } : {}),
          ...(init.body ? { body: init.body } : {}),
        },
      );
    for (const s of lost) {
      const bytes = await fetch(`${site.httpUrl}/api/v1/samples/${s.id}/image`, {
        headers: { authorization: `Bearer ${site.hub.adminToken}` },
      });
      expect((await direct(`frames/${s.image!.sha256}`, { raw: Buffer.from(await bytes.arrayBuffer()) })).status).toBe(
        200,
      );
    }
    const items = lost.map((x) => siteSampleOf(x, "parts"));
    const pushed = await direct("samples", { body: { items } });
    expect(pushed.json).toEqual({ ok: 2, duplicates: 0, failed: [] });
    expect((await direct("samples", { body: { items } })).json).toEqual({ ok: 0, duplicates: 2, failed: [] });

    await proxy.open();
    const got = await waitFor("every sample on central after the cut", () => mirrored(siteParts, centralParts));
    await syncs();
    const final = await fromSite(centralParts);
    expect(final).toHaveLength(6);
    const images = final.map((s) => s.image!.sha256);
    expect(new Set(images).size).toBe(6);
    expect(got.map((s) => s.id).sort()).toEqual(final.map((s) => s.id).sort());
    const relabelled = final.find((s) => s.image!.sha256 === made[0]!.image!.sha256)!;
    expect(relabelled.label!.sha256).toBe(last.label!.sha256);
    // the two labels of the outage are one step on central: only the current one went up
    expect(relabelled.revisions).toHaveLength(1);
    for (const s of final.filter((x) => lost.some((l) => l.image!.sha256 === x.image!.sha256))) {
      expect(s.revisions).toHaveLength(1);
    }
  }, 90_000);

  it("includes the site's samples in a central snapshot like any sample", async () => {
    const snap = await central.call<{ id: string; sampleCount: number }>(
      "POST",
      `/api/v1/projects/${centralParts}/snapshots`,
      { body: { name: "with plant-a" } },
    );
    expect(snap.status).toBe(201);
    const res = await fetch(`${central.httpUrl}/api/v1/snapshots/${snap.json.id}/manifest`, {
      headers: { authorization: `Bearer ${central.hub.adminToken}` },
    });
    const manifest = (await res.json()) as SnapshotManifest;
    const mine = await fromSite(centralParts);
    expect(snap.json.sampleCount).toBe(mine.length);
    const byId = new Map(manifest.items.map((i) => [i.sampleId, i]));
    for (const s of mine) {
      expect(byId.get(s.id)?.label.sha256).toBe(s.label!.sha256);
      expect(byId.get(s.id)?.image.sha256).toBe(s.image!.sha256);
    }
    expect(manifest.items.some((i) => i.label.content.objects.some((o) => o.mask === maskSha))).toBe(true);
  }, 30_000);

  it("sends the site's field figures and its verdicts' samples, and `kensa site list` shows them", async () => {
    const c = await connectDevice(site.mqttUrl, "cam-1", secret);
    const events = [0, 1, 2].map((i) => makeEvent("cam-1", { label: "defect", score: 0.9, media: i === 0 }));
    try {
      for (const ev of events) await c.publishAsync(topics.events("cam-1"), JSON.stringify(ev), { qos: 1 });
      const m = await site.call("PUT", `/api/v1/events/${events[0]!.id}/media`, {
        auth: basic("cam-1", secret),
        headers: { "content-type": "image/jpeg" },
        raw: JPEG_TINY,
      });
      expect(m.status).toBe(201);
    } finally {
      await c.endAsync();
    }
    const incidents = await waitFor("the site's incidents", async () => {
      const r = await site.call<{ items: Incident[] }>("GET", "/api/v1/incidents?limit=100");
      const mine = events.map((e) => r.json.items.find((i) => i.eventId === e.id));
      return mine.every(Boolean) && mine[0]!.mediaSha256 ? (mine as Incident[]) : undefined;
    });
    for (const [i, verdict] of [
      [0, "confirmed"],
      [1, "false_alarm"],
    ] as const) {
      const v = await site.call("POST", `/api/v1/incidents/${incidents[i]!.id}/verdict`, { body: { verdict } });
      expect(v.status).toBe(201);
    }
    const field = await waitFor("the field figures on central", async () => {
      const r = await central.call<{ items: Site[] }>("GET", "/api/v1/sites");
      const f = r.json.items.find((s) => s.id === "plant-a")?.field;
      const m = f?.projects.find((p) => p.slug === "blemish")?.models.find((x) => x.modelVersionId === "mdl_test");
      return m && m.confirmed + m.falseAlarms === 2 ? { f: f!, m } : undefined;
    });
    expect(field.m).toMatchObject({
      incidents: 3,
      open: 1,
      confirmed: 1,
      falseAlarms: 1,
      relabeled: 0,
      precision: 0.5,
    });
    expect(field.f.windowDays).toBe(7);

    // the verdicts' samples: the one with its frame goes up, linked to central's copy of the incident
    const samples = await waitFor("the verdict's sample on central", async () => {
      const got = await fromSite(centralBlemish);
      return got.length === 1 ? got : undefined;
    });
    const onCentral = await central.call<{ items: Incident[] }>("GET", "/api/v1/incidents?limit=100");
    const inc = onCentral.json.items.find((i) => i.site?.incidentId === incidents[0]!.id);
    expect(inc).toBeDefined();
    expect(samples[0]!.provenance.incidentId).toBe(inc!.id);
    expect(samples[0]!.label!.content.classes).toEqual(["defect"]);
    expect(samples[0]!.label!.source).toBe("verdict");
    // the false alarm's sample has no frame (its device sent none): it stays on the site
    const onSite = await site.call<{ items: Sample[] }>("GET", `/api/v1/projects/${siteBlemish}/samples`);
    expect(onSite.json.items.filter((x) => x.label).map((x) => !!x.image)).toEqual(
      expect.arrayContaining([true, false]),
    );

    const out = await kensa(
      { KENSA_HUB_URL: central.httpUrl, KENSA_ADMIN_TOKEN: central.hub.adminToken },
      "site",
      "list",
    );
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toContain("samples: 7");
    expect(out.stdout).toContain("blemish/mdl_test: 3 incidents, precision 50%");
  }, 90_000);

  it("sends no sample from a site whose policy is `upstream.samples: false`, and still its field figures", async () => {
    const s = await central.call<{ token: string }>("POST", "/api/v1/sites", {
      body: { id: "plant-b", name: "Plant B", projects: ["parts"] },
    });
    // through a proxy of its own, as plant-a: cut after the test, it leaves central no connection open
    const uplink = new UplinkProxy(Number(new URL(central.httpUrl).port));
    await uplink.open();
    const b = await startHub({
      federation: {
        ...FAST,
        central: { url: uplink.url, siteId: "plant-b", token: s.json.token },
        upstream: { samples: false },
      },
    });
    try {
      const p = await b.call<{ id: string }>("POST", "/api/v1/projects", { body: projectBody("parts", SEG) });
      const r = await b.call<Sample>("POST", `/api/v1/projects/${p.json.id}/samples?classes=dent`, {
        headers: { "content-type": "image/jpeg" },
        raw: await image(),
      });
      expect(r.status).toBe(201);
      await waitFor("plant-b's field figures on central", async () => {
        const l = await central.call<{ items: Site[] }>("GET", "/api/v1/sites");
        return l.json.items.find((x) => x.id === "plant-b")?.field ?? undefined;
      });
      await syncs();
      const st = await b.call<FederationStatus>("GET", "/api/v1/federation/status");
      expect(st.json).toMatchObject({ uplink: "up", lastError: null, pushed: { samples: 0 } });
      const all = await central.call<{ items: Sample[] }>(
        "GET",
        `/api/v1/projects/${centralParts}/samples?source=site:plant-b`,
      );
      expect(all.json.items).toHaveLength(0);
    } finally {
      await b.close();
      await uplink.cut();
    }
  }, 60_000);
});
