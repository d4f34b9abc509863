import type { RetentionPolicy, RetentionRun } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "./auth-fixtures.js";
import { backends, seed, startHub, type TestHub } from "./helpers.js";
import { bytes, daysAgo, storeCapture, storeEvent, storeSnapshot } from "./retention-fixtures.js";

const list = await backends("retention");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

// a schedule that never fires during the test: runs are requested
const retention = { everyMinutes: 10_000, batchSize: 2, pauseMs: 0 };

describe.each(list)("retention ($name)", (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startHub({ database: backend.database(), retention });
  });
  afterAll(async () => {
    await t?.close();
  });

  const run = async () => {
    const r = await t.call<RetentionRun>("POST", "/api/v1/retention/runs");
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    expect(r.json.failed).toEqual([]);
    return r.json;
  };
  const has = (sha: string | null) => t.hub.blobs.has(sha!);
  const db = () => t.hub.store.db;

  it("deletes what is past its age and keeps open-incident evidence, held items, snapshot samples and shared blobs", async () => {
    const { projectId: p } = await seed(t.call, "ret-age", [{ id: "ret-d1" }, { id: "ret-d2" }]);
    const set = await t.call<RetentionPolicy>("PUT", `/api/v1/projects/${p}/retention`, {
      body: {
        events: { maxAgeDays: 30 },
        frames: { maxAgeDays: 10 },
        clips: { maxAgeDays: 10 },
        captures: { maxAgeDays: 10 },
      },
    });
    expect(set.status).toBe(200);
    const { blobs } = t.hub;
    const ev = (o: Omit<Parameters<typeof storeEvent>[2], "projectId">) =>
      storeEvent(db(), blobs, { projectId: p, ...o });
    const old = await ev({ deviceId: "ret-d1", ageDays: 40, media: bytes(1000), clip: bytes(2000) });
    const fresh = await ev({ deviceId: "ret-d1", ageDays: 1, media: bytes(1000) });
    const frameOld = await ev({ deviceId: "ret-d1", ageDays: 20, media: bytes(1000) });
    const open = await ev({ deviceId: "ret-d1", ageDays: 40, media: bytes(1000), clip: bytes(900), incident: "open" });
    const closed = await ev({
      deviceId: "ret-d1",
      ageDays: 40,
      media: bytes(1000),
      clip: bytes(900),
      incident: "confirmed",
    });
    const heldDevice = await ev({ deviceId: "ret-d2", ageDays: 40, media: bytes(1000) });
    const heldIncident = await ev({ deviceId: "ret-d1", ageDays: 40, media: bytes(800), incident: "false_alarm" });
    const shared = bytes(1200);
    const sharedOld = await ev({ deviceId: "ret-d1", ageDays: 40, media: shared });
    const sharedNew = await ev({ deviceId: "ret-d1", ageDays: 1, media: shared });
    const cap = (ageDays: number, image: Uint8Array, labeled = false) =>
      storeCapture(db(), blobs, { projectId: p, deviceId: "ret-d1", ageDays, image, labeled });
    const capOld = await cap(20, bytes(700));
    const inSnapshotImage = bytes(600);
    const capInSnapshot = await cap(20, inSnapshotImage, true);
    const capSameImage = await cap(20, inSnapshotImage);
    const capLabeled = await cap(20, bytes(500), true);
    const capNew = await cap(1, bytes(400));
    await storeSnapshot(db(), blobs, p, [{ sampleId: capInSnapshot.id, sha256: capInSnapshot.sha }]);
    // a frame whose bytes are also a labeled mask: the event goes, the blob stays
    const maskShared = await ev({ deviceId: "ret-d1", ageDays: 40, media: bytes(333) });
    await db()
      .insertInto("label_revisions")
      .values({
        id: "lrv_retention_mask",
        sample_id: capLabeled.id,
        rev: 1,
        content: JSON.stringify({
          classes: [],
          objects: [{ label: "scratch", mask: maskShared.mediaSha }],
        }),
        content_sha256: "0".repeat(64),
        status: "labeled",
        labeled_by: "test",
        source: "upload",
        verdict_id: null,
        import_id: null,
        created_at: new Date().toISOString(),
      })
      .execute();

    // each device's latest frame ages out like frames, unless its device is held
    for (const deviceId of ["ret-d1", "ret-d2"]) {
      await db()
        .insertInto("device_frames")
        .values({
          device_id: deviceId,
          content_type: "image/jpeg",
          sha256: "f".repeat(64),
          size: 3,
          bytes: new Uint8Array([1, 2, 3]),
          received_at: daysAgo(20),
        })
        .execute();
    }
    const hold = await t.call<{ id: string }>("POST", `/api/v1/projects/${p}/legal-holds`, {
      body: { scope: "device", targetId: "ret-d2", reason: "claim 42" },
    });
    expect(hold.status).toBe(201);
    const h2 = await t.call("POST", `/api/v1/projects/${p}/legal-holds`, {
      body: { scope: "incident", targetId: heldIncident.incidentId, reason: "claim 43" },
    });
    expect(h2.status).toBe(201);
    const bad = await t.call<{ code: string }>("POST", `/api/v1/projects/${p}/legal-holds`, {
      body: { scope: "device", targetId: "nope", reason: "x" },
    });
    expect([bad.status, (bad.json as unknown as { error: { code: string } }).error.code]).toEqual([
      422,
      "KENSA_ERR_LEGAL_HOLD_TARGET_INVALID",
    ]);

    const r = await run();
    expect(r.deleted).toEqual({ events: 3, frames: 2, deviceFrames: 1, clips: 1, captures: 2, blobs: 6 });
    const deviceFrames = await db()
      .selectFrom("device_frames")
      .select("device_id")
      .where("device_id", "like", "ret-d%")
      .execute();
    expect(deviceFrames.map((f) => f.device_id)).toEqual(["ret-d2"]);
    expect(r.kept).toEqual({ openIncident: 3, incidentEvent: 1, legalHold: 4, snapshot: 1, labeled: 1, sharedBlob: 3 });
    expect(r.bytesFreed).toBe(1000 + 2000 + 1000 + 1000 + 900 + 700);

    const events = new Set(
      (await db().selectFrom("events").select("id").where("project_id", "=", p).execute()).map((e) => e.id),
    );
    expect(events.has(old.id) || events.has(sharedOld.id) || events.has(maskShared.id)).toBe(false);
    expect(await has(maskShared.mediaSha)).toBe(true);
    for (const e of [fresh, frameOld, open, closed, heldDevice, heldIncident, sharedNew])
      expect(events.has(e.id), e.id).toBe(true);
    // blobs: the deleted rows' go, the kept and the shared stay
    for (const sha of [old.mediaSha, old.clipSha, frameOld.mediaSha, closed.mediaSha, closed.clipSha, capOld.sha])
      expect(await has(sha), sha!).toBe(false);
    for (const sha of [
      fresh.mediaSha,
      open.mediaSha,
      open.clipSha,
      heldDevice.mediaSha,
      heldIncident.mediaSha,
      shared.length && sharedNew.mediaSha,
      inSnapshotImage && capSameImage.sha,
    ])
      expect(await has(sha as string), String(sha)).toBe(true);
    // a deleted frame is no longer named by its event or its decided incident
    const frameEvent = await db()
      .selectFrom("events")
      .select("media_sha256")
      .where("id", "=", frameOld.id)
      .executeTakeFirstOrThrow();
    expect(frameEvent.media_sha256).toBeNull();
    const inc = await db()
      .selectFrom("incidents")
      .selectAll()
      .where("id", "=", closed.incidentId!)
      .executeTakeFirstOrThrow();
    expect([inc.media_sha256, inc.clip_sha256]).toEqual([null, null]);
    const openInc = await db()
      .selectFrom("incidents")
      .selectAll()
      .where("id", "=", open.incidentId!)
      .executeTakeFirstOrThrow();
    expect([openInc.media_sha256, openInc.clip_sha256]).toEqual([open.mediaSha, open.clipSha]);
    const samples = new Set(
      (await db().selectFrom("samples").select("id").where("project_id", "=", p).execute()).map((s) => s.id),
    );
    expect([capOld.id, capSameImage.id].filter((id) => samples.has(id))).toEqual([]);
    for (const s of [capInSnapshot, capLabeled, capNew]) expect(samples.has(s.id)).toBe(true);

    // released, the device hold no longer protects its events
    const released = await t.call<{ releasedAt: string | null }>("POST", `/api/v1/legal-holds/${hold.json.id}/release`);
    expect(released.status).toBe(200);
    expect(released.json.releasedAt).not.toBeNull();
    const again = await run();
    expect(again.deleted.events).toBe(1);
    expect(await has(heldDevice.mediaSha)).toBe(false);
    expect(await has(heldIncident.mediaSha)).toBe(true);

    const runs = await t.call<{ items: RetentionRun[] }>("GET", "/api/v1/retention/runs");
    expect(runs.json.items.map((x) => x.id).slice(0, 2)).toEqual([again.id, r.id]);
  });

  it("keeps a kind within its byte budget, oldest first, skipping what must stay", async () => {
    const { projectId: p } = await seed(t.call, "ret-size", [{ id: "ret-s1" }]);
    const none = { maxAgeDays: null, maxBytes: null };
    await t.call("PUT", `/api/v1/projects/${p}/retention`, {
      body: { events: none, clips: none, captures: none, frames: { maxAgeDays: null, maxBytes: 2500 } },
    });
    const ev = (ageDays: number, incident?: "open") =>
      storeEvent(db(), t.hub.blobs, {
        projectId: p,
        deviceId: "ret-s1",
        ageDays,
        media: bytes(1000),
        ...(incident ? { incident } : {}),
      });
    const oldestOpen = await ev(6, "open");
    const byAge = [await ev(5), await ev(4), await ev(3), await ev(2), await ev(1)];
    const r = await run();
    // 6,000 bytes, budget 2,500: the open incident's frame stays, the next four oldest go
    expect(r.deleted.frames).toBe(4);
    expect(r.kept.openIncident).toBeGreaterThanOrEqual(1);
    const left = await db()
      .selectFrom("event_media")
      .select(["event_id", "size"])
      .where("device_id", "=", "ret-s1")
      .execute();
    expect(new Set(left.map((m) => m.event_id))).toEqual(new Set([oldestOpen.id, byAge[4]!.id]));
    expect(left.reduce((a, m) => a + Number(m.size), 0)).toBeLessThanOrEqual(2500);
    expect(r.deleted.events).toBe(0);
  });

  it("deletes nothing of a project under a legal hold", async () => {
    const { projectId: p } = await seed(t.call, "ret-hold", [{ id: "ret-h1" }]);
    await t.call("PUT", `/api/v1/projects/${p}/retention`, {
      body: { events: { maxAgeDays: 1 }, frames: { maxAgeDays: 1 } },
    });
    const e = await storeEvent(db(), t.hub.blobs, { projectId: p, deviceId: "ret-h1", ageDays: 50, media: bytes(300) });
    const h = await t.call("POST", `/api/v1/projects/${p}/legal-holds`, {
      body: { scope: "project", reason: "audit" },
    });
    expect(h.status).toBe(201);
    const r = await run();
    expect(r.kept.legalHold).toBeGreaterThanOrEqual(2);
    expect(await db().selectFrom("events").select("id").where("id", "=", e.id).executeTakeFirst()).toBeDefined();
    expect(await has(e.mediaSha)).toBe(true);
  });

  it("shows settings as set and in effect, audits changes, and lets only project managers change them", async () => {
    const { projectId: p } = await seed(t.call, "ret-api", []);
    const before = await t.call<RetentionPolicy>("GET", `/api/v1/projects/${p}/retention`);
    expect(before.json.enabled).toBe(true);
    expect(before.json.effective.frames).toEqual({
      maxAgeDays: 90,
      maxBytes: null,
      from: { maxAgeDays: "default", maxBytes: "default" },
    });
    const after = await t.call<RetentionPolicy>("PUT", `/api/v1/projects/${p}/retention`, {
      body: { frames: { maxBytes: 10_000_000 }, events: { maxAgeDays: null } },
    });
    expect(after.json.effective.frames).toEqual({
      maxAgeDays: 90,
      maxBytes: 10_000_000,
      from: { maxAgeDays: "default", maxBytes: "project" },
    });
    expect(after.json.effective.events.maxAgeDays).toBeNull();
    expect(after.json.updatedBy).toBeTruthy();
    const typo = await t.call<{ code: string }>("PUT", `/api/v1/projects/${p}/retention`, { body: { frame: {} } });
    expect([typo.status, (typo.json as unknown as { error: { code: string } }).error.code]).toEqual([
      400,
      "KENSA_ERR_VALIDATION",
    ]);
    const audit = await t.call<{
      items: Array<{ action: string; targetId: string | null; details: { after: unknown } }>;
    }>("GET", "/api/v1/audit?action=retention.set");
    const entry = audit.json.items.find((a) => a.targetId === p);
    expect(entry?.details.after).toEqual({ frames: { maxBytes: 10_000_000 }, events: { maxAgeDays: null } });
    const scientist = await createUser(t.httpUrl, t.call, "data_scientist", `ds-${backend.name}`);
    expect((await scientist.call("GET", `/api/v1/projects/${p}/retention`)).status).toBe(200);
    expect((await scientist.call("PUT", `/api/v1/projects/${p}/retention`, { body: {} })).status).toBe(403);
    expect(
      (await scientist.call("POST", `/api/v1/projects/${p}/legal-holds`, { body: { scope: "project", reason: "x" } }))
        .status,
    ).toBe(403);
    const metrics = await t.call<string>("GET", "/metrics");
    expect(metrics.json).toMatch(/kensa_retention_deleted_total\{kind="events"\} \d+/);
    expect(metrics.json).toMatch(/kensa_retention_kept_total\{reason="legalHold"\} [1-9]/);
  });
});
