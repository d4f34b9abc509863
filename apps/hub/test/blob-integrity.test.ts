import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { type Incident, topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlobScrub } from "../src/blobstore/blob-scrub.js";
import type { FsBlobStore } from "../src/index.js";
import { makeEvent as anyEvent, backends, basic, connectDevice, seed, startHub, type TestHub } from "./helpers.js";

const list = await backends("blob-integrity");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

/** a decodable JPEG, different for each seed (so each upload is its own blob) */
const jpeg = (seed: number) =>
  sharp({ create: { width: 32, height: 24, channels: 3, background: { r: seed % 256, g: 40, b: 90 } } })
    .jpeg()
    .toBuffer();

/** a clip larger than what stores verify before serving: hashed while it streams */
const BIG_CLIP = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypisom"), randomBytes(6 * 1024 * 1024)]);

describe.each(list)("blob integrity over HTTP ($name)", (backend) => {
  // each device numbers its events 1, 2, 3, … as an agent does (the sweep looks for gaps)
  const seqs = new Map<string, number>();
  const makeEvent = (deviceId: string, over: Parameters<typeof anyEvent>[1] = {}) => {
    const seq = (seqs.get(deviceId) ?? 0) + 1;
    seqs.set(deviceId, seq);
    return anyEvent(deviceId, { seq, ...over });
  };
  let t: TestHub;
  let secrets: Record<string, string>;
  let cam1: MqttClient;
  let cam2: MqttClient;

  beforeAll(async () => {
    t = await startHub({
      database: backend.database(),
      limits: { clipBytes: 16 * 1024 * 1024 },
      // tight bounds so the test sees them: 3 waiting uploads, a 1.5 s grace, a sweep every 0.3 s
      integrity: { earlyMediaPerDevice: 3, earlyMediaGraceHours: 1.5 / 3600, sweepIntervalMinutes: 0.005 },
    });
    ({ secrets } = await seed(t.call, "line", [{ id: "cam-1" }, { id: "cam-2" }, { id: "cam-3" }], {
      rule: { type: "threshold", labels: ["defect"], minScore: 0.6 },
    }));
    cam1 = await connectDevice(t.mqttUrl, "cam-1", secrets["cam-1"]!);
    cam2 = await connectDevice(t.mqttUrl, "cam-2", secrets["cam-2"]!);
  });
  afterAll(async () => {
    await cam1?.endAsync(true);
    await cam2?.endAsync(true);
    await t?.close();
  });

  const store = () => t.hub.blobs as FsBlobStore;
  const putMedia = (device: string, eventId: string, body: Buffer) =>
    t.call<{ sha256: string; linked: boolean; error?: { code: string } }>("PUT", `/api/v1/events/${eventId}/media`, {
      auth: basic(device, secrets[device]!),
      headers: { "content-type": "image/jpeg" },
      raw: body,
    });
  const send = async (client: MqttClient, ev: ReturnType<typeof anyEvent>) => {
    await client.publishAsync(topics.events(ev.deviceId), JSON.stringify(ev), { qos: 1 });
    return waitFor(
      `event ${ev.id} stored`,
      async () => (await t.call("GET", `/api/v1/events/${ev.id}`)).status === 200,
    );
  };
  const incidentOf = (eventId: string) =>
    waitFor(`the incident of ${eventId}`, async () => {
      const r = await t.call<{ items: Incident[] }>("GET", "/api/v1/incidents?limit=1000");
      return r.json.items.find((i) => i.eventId === eventId && i.mediaSha256);
    });
  const getMedia = (incidentId: string) =>
    fetch(`${t.httpUrl}/api/v1/incidents/${incidentId}/media`, {
      headers: { authorization: `Bearer ${t.hub.adminToken}` },
    });

  it("does not serve a corrupt frame, records it, and the device's re-upload repairs it", async () => {
    const frame = await jpeg(1);
    const ev = makeEvent("cam-1", { label: "defect", score: 0.9, media: true });
    await send(cam1, ev);
    const up = await putMedia("cam-1", ev.id, frame);
    expect(up.status).toBe(201);
    const inc = await incidentOf(ev.id);
    expect(Buffer.from(await (await getMedia(inc.id)).arrayBuffer()).equals(frame)).toBe(true);

    // a flipped byte on disk
    const bad = Buffer.from(frame);
    bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0x01;
    await writeFile(store().path(up.json.sha256), bad);

    const served = await getMedia(inc.id);
    expect(served.status).toBe(500);
    expect(await served.json()).toMatchObject({ error: { code: "KENSA_ERR_BLOB_CORRUPT" } });
    // quarantined: asked again, it is missing rather than corrupt
    expect((await getMedia(inc.id)).status).toBe(404);
    const problem = await waitFor("the problem recorded", () =>
      t.hub.store.db.selectFrom("blob_problems").selectAll().where("sha256", "=", up.json.sha256).executeTakeFirst(),
    );
    expect(problem).toMatchObject({ problem: "corrupt", via: "read" });
    const metrics = await (
      await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.hub.adminToken}` } })
    ).text();
    expect(metrics).toMatch(/kensa_blob_corrupt_total\{via="read"\} 1/);

    // the agent retries its upload: the same bytes heal the frame
    expect((await putMedia("cam-1", ev.id, frame)).status).toBe(201);
    const healed = await getMedia(inc.id);
    expect(healed.status).toBe(200);
    expect(Buffer.from(await healed.arrayBuffer()).equals(frame)).toBe(true);
  });

  it("aborts a streamed clip whose content does not match, instead of completing it", async () => {
    const ev = makeEvent("cam-1", { label: "defect", score: 0.95, media: true });
    await send(cam1, ev);
    await putMedia("cam-1", ev.id, await jpeg(2));
    const clip = await t.call<{ sha256: string; incidentId: string }>("PUT", `/api/v1/events/${ev.id}/clip`, {
      auth: basic("cam-1", secrets["cam-1"]!),
      headers: { "content-type": "video/mp4" },
      raw: BIG_CLIP,
    });
    expect(clip.status).toBe(201);
    const inc = await incidentOf(ev.id);
    const url = `${t.httpUrl}/api/v1/incidents/${inc.id}/clip`;
    const auth = { authorization: `Bearer ${t.hub.adminToken}` };
    expect(Buffer.from(await (await fetch(url, { headers: auth })).arrayBuffer()).equals(BIG_CLIP)).toBe(true);

    const bad = Buffer.from(BIG_CLIP);
    bad[5_000_000] = bad[5_000_000]! ^ 0xff;
    // a browser seeking: the range is not served from a corrupt clip
    await writeFile(store().path(clip.json.sha256), bad);
    const seek = await fetch(url, { headers: { ...auth, range: "bytes=0-1023" } });
    expect(seek.status).toBe(500);
    expect(await seek.json()).toMatchObject({ error: { code: "KENSA_ERR_BLOB_CORRUPT" } });
    // the device sends it again; then the disk corrupts it once more, under a whole download
    await t.call("PUT", `/api/v1/events/${ev.id}/clip`, {
      auth: basic("cam-1", secrets["cam-1"]!),
      headers: { "content-type": "video/mp4" },
      raw: BIG_CLIP,
    });
    expect((await fetch(url, { headers: { ...auth, range: "bytes=0-1023" } })).status).toBe(206);
    await writeFile(store().path(clip.json.sha256), bad);
    const res = await fetch(url, { headers: auth });
    expect(res.status).toBe(200); // headers leave before the last byte is hashed
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(await store().has(clip.json.sha256)).toBe(false);
  });

  it("does not serve a device's latest frame changed in the database; its next upload replaces it", async () => {
    const thumb = await jpeg(30);
    const upload = () =>
      t.call("PUT", "/api/v1/devices/cam-1/frame", {
        auth: basic("cam-1", secrets["cam-1"]!),
        headers: { "content-type": "image/jpeg" },
        raw: thumb,
      });
    const get = () =>
      fetch(`${t.httpUrl}/api/v1/devices/cam-1/frame`, { headers: { authorization: `Bearer ${t.hub.adminToken}` } });
    expect((await upload()).status).toBeLessThan(300);
    expect((await get()).status).toBe(200);
    const bad = Buffer.from(thumb);
    bad[100] = bad[100]! ^ 0xff;
    await t.hub.store.db.updateTable("device_frames").set({ bytes: bad }).where("device_id", "=", "cam-1").execute();
    const refused = await get();
    expect(refused.status).toBe(500);
    expect(await refused.json()).toMatchObject({ error: { code: "KENSA_ERR_BLOB_CORRUPT" } });
    await upload();
    const again = await get();
    expect(again.status).toBe(200);
    expect(Buffer.from(await again.arrayBuffer()).equals(thumb)).toBe(true);
  });

  it("the scrub finds a corrupt blob nobody reads, at its bounded rate", async () => {
    const frames = [await jpeg(3), await jpeg(4)];
    const shas: string[] = [];
    for (const f of frames) shas.push((await t.hub.blobs.put(f)).sha256);
    await writeFile(store().path(shas[1]!), "not the frame");
    const fast = await new BlobScrub(t.hub.blobs, { bytesPerSecond: 1e9 }).pass();
    expect(fast.complete).toBe(true);
    expect(fast.corrupt).toEqual([shas[1]]);
    expect(await t.hub.blobs.has(shas[0]!)).toBe(true);
    expect(await t.hub.blobs.has(shas[1]!)).toBe(false);
    const problem = await waitFor("the scrub's find recorded", () =>
      t.hub.store.db.selectFrom("blob_problems").selectAll().where("sha256", "=", shas[1]!).executeTakeFirst(),
    );
    expect(problem.via).toBe("scrub");

    // the rate bounds the pass: its bytes at 4 × their size per second take about 0.25 s
    const rate = Math.ceil(fast.bytes * 4);
    const slow = await new BlobScrub(t.hub.blobs, { bytesPerSecond: rate }).pass();
    expect(slow.corrupt).toEqual([]);
    expect(slow.elapsedMs).toBeGreaterThanOrEqual((slow.bytes / rate) * 1000 - 20);
  });

  it("refuses media naming another device's event or a malformed id, with codes", async () => {
    const theirs = makeEvent("cam-2", { media: true });
    await send(cam2, theirs);
    const foreign = await putMedia("cam-1", theirs.id, await jpeg(5));
    expect(foreign.status).toBe(403);
    expect(foreign.json.error?.code).toBe("KENSA_ERR_FORBIDDEN");
    for (const id of ["short", "has space in it", "../../../etc/passwd", "ünïcödé-event-id"]) {
      const r = await putMedia("cam-1", encodeURIComponent(id), await jpeg(6));
      expect(r.status, id).toBe(400);
      expect(r.json.error?.code, id).toBe("KENSA_ERR_EVENT_ID_INVALID");
    }
    // people repair data only for stored events
    const byAdmin = await t.call<{ error: { code: string } }>("PUT", "/api/v1/events/evt-never-stored-0001/media", {
      headers: { "content-type": "image/jpeg" },
      raw: await jpeg(7),
    });
    expect(byAdmin.json.error.code).toBe("KENSA_ERR_EVENT_NOT_FOUND");
  });

  it("bounds early media per device; arrived events free their places", async () => {
    const evs = Array.from({ length: 4 }, () => makeEvent("cam-3", { media: true }));
    for (let i = 0; i < 3; i++) expect((await putMedia("cam-3", evs[i]!.id, await jpeg(10 + i))).status).toBe(201);
    const over = await putMedia("cam-3", evs[3]!.id, await jpeg(13));
    expect(over.status).toBe(429);
    expect(over.json.error?.code).toBe("KENSA_ERR_EARLY_MEDIA_LIMIT");
    // a retry of a waiting upload is no new place
    expect((await putMedia("cam-3", evs[0]!.id, await jpeg(10))).status).toBe(201);
    // one event arrives: its place is free for the fourth upload, which the agent retried
    const cam3 = await connectDevice(t.mqttUrl, "cam-3", secrets["cam-3"]!);
    try {
      await send(cam3, evs[0]!);
    } finally {
      await cam3.endAsync(true);
    }
    expect((await putMedia("cam-3", evs[3]!.id, await jpeg(13))).status).toBe(201);
  });

  it("sweeps early media whose event never came, once the device delivered newer events without a gap", async () => {
    const db = t.hub.store.db;
    const waitingFor = (eventId: string) =>
      db.selectFrom("event_media").select("sha256").where("event_id", "=", eventId).executeTakeFirst();
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // media for an id the device never sends an event for (a bug, or a device filling the hub)
    const madeUp = `evt-made-up-${randomBytes(6).toString("hex")}`;
    expect((await putMedia("cam-1", madeUp, await jpeg(20))).status).toBe(201);
    // past the grace, but the device sent nothing since: its event may still be in its outbox
    await sleep(2_000);
    expect(await waitingFor(madeUp)).toBeDefined();
    // a newer event arrives while an older one is still on its way (a gap): still kept
    const older = makeEvent("cam-1");
    const newer = makeEvent("cam-1");
    await send(cam1, newer);
    await sleep(1_000);
    expect(await waitingFor(madeUp)).toBeDefined();
    // the gap closes: nothing older is left on the device, the upload is an orphan
    await send(cam1, older);
    await waitFor("the orphan swept", async () => (await waitingFor(madeUp)) === undefined, { timeoutMs: 10_000 });
    expect(
      await db.selectFrom("early_media").selectAll().where("event_id", "=", madeUp).executeTakeFirst(),
    ).toBeUndefined();
  });
});
