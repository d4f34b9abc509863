import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FsBlobStore, FsckReport, HubConfigInput } from "../src/index.js";
import { type FsckOptions, runFsck } from "../src/system/fsck.js";
import { makeEvent as anyEvent, backends, basic, connectDevice, seed, startHub, type TestHub } from "./helpers.js";

const run = promisify(execFile);
const KENSA = fileURLToPath(new URL("../../cli/bin/kensa.mjs", import.meta.url));

const list = await backends("fsck");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

const jpeg = (seed: number) =>
  sharp({ create: { width: 24, height: 16, channels: 3, background: { r: seed, g: 200, b: 10 } } })
    .jpeg()
    .toBuffer();

/** `kensa hub fsck …` as a person runs it; its exit code and output */
async function kensaFsck(args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [KENSA, "hub", "fsck", ...args], { timeout: 60_000 });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, stdout: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe.each(list)("fsck ($name)", (backend) => {
  let t: TestHub;
  let secrets: Record<string, string>;
  let cam: MqttClient;
  let configFile: string;
  let seq = 0;
  const makeEvent = (over: Parameters<typeof anyEvent>[1] = {}) => anyEvent("cam-1", { seq: ++seq, ...over });
  const opts = (repair: boolean): FsckOptions => ({
    repair,
    orphanGraceMs: 3_600_000,
    earlyMedia: { perDevice: 100, graceMs: 1_000 },
  });

  beforeAll(async () => {
    const database = backend.database();
    // the hub's own sweep stays out of the way: fsck is what is under test
    const integrity = { earlyMediaGraceHours: 1 / 3600, sweepIntervalMinutes: 10_000, scrubBytesPerSecond: 0 };
    t = await startHub({ database, integrity });
    configFile = join(t.dir.path, "hub.json");
    const config: HubConfigInput = { dataDir: t.dir.path, database, integrity };
    await writeFile(configFile, JSON.stringify(config));
    ({ secrets } = await seed(t.call, "line", [{ id: "cam-1" }], {
      rule: { type: "threshold", labels: ["defect"], minScore: 0.6 },
    }));
    cam = await connectDevice(t.mqttUrl, "cam-1", secrets["cam-1"]!);
  });
  afterAll(async () => {
    await cam?.endAsync(true);
    await t?.close();
  });

  const store = () => t.hub.blobs as FsBlobStore;
  const db = () => t.hub.store.db;
  const putMedia = (eventId: string, body: Buffer) =>
    t.call<{ sha256: string }>("PUT", `/api/v1/events/${eventId}/media`, {
      auth: basic("cam-1", secrets["cam-1"]!),
      headers: { "content-type": "image/jpeg" },
      raw: body,
    });
  const send = async (ev: ReturnType<typeof anyEvent>) => {
    await cam.publishAsync(topics.events("cam-1"), JSON.stringify(ev), { qos: 1 });
    await waitFor(`event ${ev.id}`, async () => (await t.call("GET", `/api/v1/events/${ev.id}`)).status === 200);
  };

  it("reports each kind of problem without changing anything, repairs them, and heals with re-uploads", async () => {
    // A: a stored frame, corrupted on disk; B: a stored frame whose file is lost
    const [frameA, frameB] = [await jpeg(1), await jpeg(2)];
    const evA = makeEvent({ label: "defect", score: 0.9, media: true });
    const evB = makeEvent({ label: "defect", score: 0.9, media: true });
    await send(evA);
    await send(evB);
    const a = (await putMedia(evA.id, frameA)).json.sha256;
    const b = (await putMedia(evB.id, frameB)).json.sha256;
    await writeFile(store().path(a), Buffer.concat([frameA, Buffer.from("tail")]));
    await rm(store().path(b));
    // O: named by nothing for a day; Y: named by nothing, just written (an upload in flight)
    const o = (await t.hub.blobs.put(randomBytes(3000))).sha256;
    const y = (await t.hub.blobs.put(randomBytes(2000))).sha256;
    const dayAgo = new Date(Date.now() - 86_400_000);
    await utimes(store().path(o), dayAgo, dayAgo);
    // E: media for an event the device never sends; it then sends newer events without a gap
    const madeUp = `evt-never-${randomBytes(6).toString("hex")}`;
    const e = (await putMedia(madeUp, await jpeg(3))).json.sha256;
    await send(makeEvent());
    await new Promise((r) => setTimeout(r, 1_200));

    const report = await runFsck(db(), t.hub.blobs, opts(false));
    expect(report.corrupt).toEqual([{ sha256: a, size: frameA.length + 4, action: "reported" }]);
    expect(report.missing).toHaveLength(1);
    expect(report.missing[0]).toMatchObject({ sha256: b, action: "reported" });
    expect(report.missing[0]!.referencedBy).toEqual(
      expect.arrayContaining(["events.media_sha256", "incidents.media_sha256", "event_media.sha256"]),
    );
    const orphans = Object.fromEntries(report.orphanBlobs.map((x) => [x.sha256, x.action]));
    expect(orphans).toEqual({ [o]: "reported", [y]: "kept" });
    expect(report.orphanEarlyMedia).toEqual([
      { eventId: madeUp, deviceId: "cam-1", kind: "frame", action: "reported" },
    ]);
    // a report changes nothing
    expect(await t.hub.blobs.has(a)).toBe(true);
    expect(await t.hub.blobs.has(o)).toBe(true);
    expect(
      await db().selectFrom("event_media").select("sha256").where("event_id", "=", madeUp).executeTakeFirst(),
    ).toBeDefined();
    expect(await db().selectFrom("blob_problems").selectAll().execute()).toEqual([]);

    // the command, with --repair: exits 1 because missing blobs need their uploads again
    const dbArgs = ["-c", configFile];
    const repaired = await kensaFsck([...dbArgs, "--repair", "--json", "--orphan-grace", "1h"]);
    expect(repaired.code).toBe(1);
    const r = JSON.parse(repaired.stdout) as FsckReport;
    expect(r.corrupt).toEqual([{ sha256: a, size: frameA.length + 4, action: "quarantined" }]);
    expect(r.missing.map((m) => [m.sha256, m.action]).sort()).toEqual(
      [
        [a, "marked"],
        [b, "marked"],
      ].sort(),
    );
    // the early frame's blob, named by nothing once its row went, is young: kept until past the grace
    expect(Object.fromEntries(r.orphanBlobs.map((x) => [x.sha256, x.action]))).toEqual({
      [o]: "deleted",
      [y]: "kept",
      [e]: "kept",
    });
    expect(r.orphanEarlyMedia.map((x) => [x.eventId, x.action])).toEqual([[madeUp, "removed"]]);
    expect(await t.hub.blobs.has(a)).toBe(false);
    expect(await t.hub.blobs.has(o)).toBe(false);
    expect(await t.hub.blobs.has(y)).toBe(true);
    expect(
      await db().selectFrom("event_media").select("sha256").where("event_id", "=", madeUp).executeTakeFirst(),
    ).toBeUndefined();
    const problems = await db().selectFrom("blob_problems").select(["sha256", "problem"]).orderBy("sha256").execute();
    expect(problems).toEqual(
      [
        { sha256: a, problem: "corrupt" },
        { sha256: b, problem: "missing" },
      ].sort((p, q) => (p.sha256 < q.sha256 ? -1 : 1)),
    );
    expect(await t.hub.blobs.has(e)).toBe(true);

    // the agent retries its uploads: both frames are whole again, and fsck is clean
    await putMedia(evA.id, frameA);
    await putMedia(evB.id, frameB);
    const text = await kensaFsck(dbArgs);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("report only");
    expect(text.stdout).toMatch(/corrupt \(content ≠ sha256\)\s+0/);
    expect(text.stdout).toMatch(/problems since fixed\s+2\s+2 reported/);
    const cleared = await runFsck(db(), t.hub.blobs, opts(true));
    expect(cleared.resolvedProblems.map((p) => p.action)).toEqual(["cleared", "cleared"]);
    expect(await db().selectFrom("blob_problems").selectAll().execute()).toEqual([]);
    const served = await fetch(`${t.httpUrl}/api/v1/events/${evA.id}`, {
      headers: { authorization: `Bearer ${t.hub.adminToken}` },
    });
    expect(((await served.json()) as { mediaSha256: string }).mediaSha256).toBe(a);
  });

  it("keeps what a bundle pins besides its model (golden frames, the int8 file): they are not orphans", async () => {
    const golden = (await t.hub.blobs.put(await jpeg(7))).sha256;
    const lonely = (await t.hub.blobs.put(randomBytes(777))).sha256;
    const { projectId } = await db().selectFrom("devices").select("project_id as projectId").executeTakeFirstOrThrow();
    await db()
      .insertInto("bundle_files")
      .values({ bundle_sha256: "b".repeat(64), sha256: golden, project_id: projectId, role: "golden" })
      .execute();
    const repaired = await runFsck(db(), t.hub.blobs, { ...opts(true), orphanGraceMs: 0 });
    const actions = Object.fromEntries(repaired.orphanBlobs.map((x) => [x.sha256, x.action]));
    expect(actions[lonely]).toBe("deleted");
    expect(actions[golden]).toBeUndefined();
    expect(await t.hub.blobs.has(golden)).toBe(true);
  });

  it("is served to admins at POST /api/v1/system/fsck, and a repair is audited", async () => {
    const lonely = (await t.hub.blobs.put(randomBytes(1234))).sha256;
    const report = await t.call<FsckReport>("POST", "/api/v1/system/fsck", { body: {} });
    expect(report.status).toBe(200);
    expect(report.json.repair).toBe(false);
    expect(report.json.orphanBlobs.find((b) => b.sha256 === lonely)?.action).toBe("kept");
    const repaired = await t.call<FsckReport>("POST", "/api/v1/system/fsck", {
      body: { repair: true, orphanGraceHours: 0 },
    });
    expect(repaired.json.orphanBlobs.find((b) => b.sha256 === lonely)?.action).toBe("deleted");
    expect(await t.hub.blobs.has(lonely)).toBe(false);
    const audit = await t.call<{ items: Array<{ action: string; details: { deletedOrphans: string[] } }> }>(
      "GET",
      "/api/v1/audit?limit=5",
    );
    const entry = audit.json.items.find((e) => e.action === "blobs.repair");
    expect(entry?.details.deletedOrphans).toContain(lonely);
    const byDevice = await t.call("POST", "/api/v1/system/fsck", { auth: basic("cam-1", secrets["cam-1"]!), body: {} });
    expect([401, 403]).toContain(byDevice.status);
    const bad = await t.call("POST", "/api/v1/system/fsck", { body: { repair: "yes please" } });
    expect(bad.status).toBe(400);
  });
});
