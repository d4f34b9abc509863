import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Incident, topics } from "@kensa/contracts";
import { needFfmpeg, tempDir, waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, basic, connectDevice, JPEG_TINY, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

// real clips as the agent writes them: H.264 in MP4 and MJPEG in AVI, by the system's ffmpeg or
// the static one the agent installs; without either the file skips with the reason printed
const ffmpeg = needFfmpeg("libx264", "mjpeg");
const clipDir = await tempDir("kensa-clips-");
const ffmpegClip = (name: string, codec: string[]): Buffer => {
  const path = join(clipDir.path, name);
  if (!ffmpeg) return Buffer.alloc(0);
  execFileSync(ffmpeg, [
    ...["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2"],
    ...codec,
    path,
  ]);
  return readFileSync(path);
};
const MP4 = ffmpegClip("c.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]);
const AVI = ffmpegClip("c.avi", ["-c:v", "mjpeg"]);

const list = await backends("clips");
afterAll(async () => {
  for (const b of list) await b.cleanup();
  await clipDir.remove();
});

describe.skipIf(!ffmpeg).each(list)("incident clips ($name)", (backend) => {
  let t: TestHub;
  let secrets: Record<string, string>;
  let device: MqttClient;

  beforeAll(async () => {
    t = await startHub({ database: backend.database(), limits: { clipBytes: 4 * 1024 * 1024 } });
    ({ secrets } = await seed(t.call, "line", [{ id: "cam-1" }, { id: "cam-2" }], {
      rule: { type: "threshold", labels: ["defect"], minScore: 0.6 },
    }));
    device = await connectDevice(t.mqttUrl, "cam-1", secrets["cam-1"]!);
  });
  afterAll(async () => {
    await device?.endAsync(true);
    await t.close();
  });

  const put = (eventId: string, body: Buffer, type: string, from = "cam-1", query = "?durationMs=2000&frames=20") =>
    t.call<{ sha256: string; size: number; incidentId: string | null }>(
      "PUT",
      `/api/v1/events/${eventId}/clip${query}`,
      { auth: basic(from, secrets[from]!), headers: { "content-type": type }, raw: body },
    );
  const incidentOf = (eventId: string) =>
    waitFor(`the incident of ${eventId}`, async () => {
      const r = await t.call<{ items: Incident[] }>("GET", "/api/v1/incidents?limit=1000");
      return r.json.items.find((i) => i.eventId === eventId);
    });
  const getClip = (incidentId: string, headers: Record<string, string> = {}) =>
    fetch(`${t.httpUrl}/api/v1/incidents/${incidentId}/clip`, {
      headers: { authorization: `Bearer ${t.hub.adminToken}`, ...headers },
    });

  it("links a clip uploaded after the incident, and serves it whole or by byte range", async () => {
    const ev = makeEvent("cam-1", { label: "defect", score: 0.9, media: true });
    await device.publishAsync(topics.events("cam-1"), JSON.stringify(ev), { qos: 1 });
    const inc = await incidentOf(ev.id);
    expect(inc.clip ?? null).toBeNull();
    expect((await getClip(inc.id)).status).toBe(404);

    const r = await put(ev.id, MP4, "video/mp4");
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ size: MP4.length, incidentId: inc.id });
    const withClip = (await t.call<Incident>("GET", `/api/v1/incidents/${inc.id}`)).json;
    expect(withClip.clip).toEqual({
      sha256: r.json.sha256,
      contentType: "video/mp4",
      size: MP4.length,
      durationMs: 2000,
    });

    const whole = await getClip(inc.id);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("video/mp4");
    expect(whole.headers.get("accept-ranges")).toBe("bytes");
    expect(Buffer.from(await whole.arrayBuffer()).equals(MP4)).toBe(true);

    // what a browser's <video> asks for while it seeks
    const part = await getClip(inc.id, { range: "bytes=100-1099" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 100-1099/${MP4.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(MP4.subarray(100, 1100))).toBe(true);
    const tail = await getClip(inc.id, { range: "bytes=-10" });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(MP4.subarray(MP4.length - 10))).toBe(true);
    const open = await getClip(inc.id, { range: `bytes=${MP4.length - 5}-` });
    expect(Buffer.from(await open.arrayBuffer()).equals(MP4.subarray(MP4.length - 5))).toBe(true);

    const outside = await getClip(inc.id, { range: `bytes=${MP4.length + 10}-` });
    expect(outside.status).toBe(416);
    expect(outside.headers.get("content-range")).toBe(`bytes */${MP4.length}`);
    expect(await outside.json()).toMatchObject({ error: { code: "KENSA_ERR_RANGE_NOT_SATISFIABLE" } });
    // a malformed range is ignored, as HTTP allows: the whole clip
    expect((await getClip(inc.id, { range: "pages=1-2" })).status).toBe(200);
  });

  it("keeps a clip that overtakes its event and shows it on the incident once raised", async () => {
    const ev = makeEvent("cam-1", { label: "defect", score: 0.95, media: true });
    const early = await put(ev.id, AVI, "video/x-msvideo", "cam-1", "");
    expect(early.status).toBe(201);
    expect(early.json.incidentId).toBeNull();
    await device.publishAsync(topics.events("cam-1"), JSON.stringify(ev), { qos: 1 });
    const inc = await incidentOf(ev.id);
    expect(inc.clip).toEqual({
      sha256: early.json.sha256,
      contentType: "video/x-msvideo",
      size: AVI.length,
      durationMs: null,
    });
    const res = await getClip(inc.id);
    expect(res.headers.get("content-type")).toBe("video/x-msvideo");
    expect(Buffer.from(await res.arrayBuffer()).equals(AVI)).toBe(true);
  });

  it("refuses what is not a clip, a lie about its type, another device's event and anonymous uploads", async () => {
    const ev = makeEvent("cam-1", { label: "defect", score: 0.9 });
    await device.publishAsync(topics.events("cam-1"), JSON.stringify(ev), { qos: 1 });
    await incidentOf(ev.id);
    for (const [body, type] of [
      [JPEG_TINY, "video/mp4"],
      [MP4, "video/x-msvideo"],
      [MP4, "image/jpeg"],
      [Buffer.from("RIFF"), "video/x-msvideo"],
    ] as const) {
      const r = await put(ev.id, body, type);
      expect(r.status).toBe(422);
      expect(r.json).toMatchObject({ error: { code: "KENSA_ERR_MEDIA_INVALID" } });
    }
    const foreign = await put(ev.id, MP4, "video/mp4", "cam-2");
    expect(foreign.status).toBe(403);
    expect(foreign.json).toMatchObject({ error: { code: "KENSA_ERR_FORBIDDEN" } });
    expect((await put(ev.id, MP4, "video/mp4", "cam-1", "?durationMs=-1")).status).toBe(400);
    const anon = await t.call("PUT", `/api/v1/events/${ev.id}/clip`, {
      auth: null,
      headers: { "content-type": "video/mp4" },
      raw: MP4,
    });
    expect(anon.status).toBe(401);
    const big = await put(ev.id, Buffer.concat([MP4, Buffer.alloc(4 * 1024 * 1024)]), "video/mp4");
    expect(big.status).toBe(413);
    expect(big.json).toMatchObject({ error: { code: "KENSA_ERR_UPLOAD_TOO_LARGE" } });
  });
});
