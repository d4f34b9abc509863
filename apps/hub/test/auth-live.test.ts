import { type Incident, topics } from "@kensa/contracts";
import type { MqttClient } from "mqtt";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieCall, createUser, login, type TestUser } from "./auth-fixtures.js";
import {
  backends,
  basic,
  connectDevice,
  JPEG_TINY,
  makeEvent,
  PNG_1x1,
  seed,
  startHub,
  type TestHub,
} from "./helpers.js";

const list = await backends("auth_live");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

interface SseEvent {
  event: string | null;
  data: string | null;
  comment: string | null;
}

/** An EventSource-like reader over fetch: the test waits for the blocks it expects. */
async function openStream(url: string, cookie: string | null) {
  const ctrl = new AbortController();
  const res = await fetch(url, {
    headers: { accept: "text/event-stream", ...(cookie ? { cookie } : {}) },
    signal: ctrl.signal,
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const next = async (want: (e: SseEvent) => boolean, ms = 8000): Promise<SseEvent> => {
    const deadline = Date.now() + ms;
    for (;;) {
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: SseEvent = { event: null, data: null, comment: null };
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) e.comment = line.slice(1).trim();
          else if (line.startsWith("event: ")) e.event = line.slice(7);
          else if (line.startsWith("data: ")) e.data = line.slice(6);
        }
        if (want(e)) return e;
        end = buffer.indexOf("\n\n");
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no matching server-sent event in time");
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("stream timed out")), left)),
      ]);
      if (chunk.done) throw new Error("stream ended");
      buffer += chunk.value;
    }
  };
  return { res, next, close: () => ctrl.abort() };
}

const incidentOf = (e: SseEvent) => JSON.parse(e.data!) as Incident;

describe.each(list)("live incidents and device frames ($name)", (backend) => {
  let t: TestHub;
  let site: TestUser;
  let cookie: string;
  let projectId: string;
  let secrets: Record<string, string>;
  let camA: MqttClient;
  let other: MqttClient;

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    ({ projectId, secrets } = await seed(t.call, "live", [{ id: "live-a" }, { id: "live-b" }]));
    const elsewhere = await seed(t.call, "elsewhere", [{ id: "far-cam" }]);
    site = await createUser(t.httpUrl, t.call, "site_engineer", "sam");
    cookie = (await login(t.httpUrl, "sam", site.password)).cookie!;
    camA = await connectDevice(t.mqttUrl, "live-a", secrets["live-a"]!);
    other = await connectDevice(t.mqttUrl, "far-cam", elsewhere.secrets["far-cam"]!);
  });
  afterAll(async () => {
    await camA.endAsync(true);
    await other.endAsync(true);
    await t.close();
  });

  it("streams incident.created from MQTT ingest and incident.updated after a verdict, to a cookie session", async () => {
    const anonymous = await fetch(`${t.httpUrl}/api/v1/incidents/stream`);
    expect(anonymous.status).toBe(401);

    const stream = await openStream(`${t.httpUrl}/api/v1/incidents/stream?projectId=${projectId}`, cookie);
    try {
      expect(stream.res.status).toBe(200);
      expect(stream.res.headers.get("content-type")).toContain("text/event-stream");
      expect(stream.res.headers.get("cache-control")).toContain("no-cache");
      await stream.next((e) => e.comment === "connected");

      // another project's incident is filtered out; ours arrives after it
      const far = makeEvent("far-cam", { label: "defect", score: 0.99 });
      await other.publishAsync(topics.events("far-cam"), JSON.stringify(far), { qos: 1 });
      const ev = makeEvent("live-a", { label: "defect", score: 0.91 });
      await camA.publishAsync(topics.events("live-a"), JSON.stringify(ev), { qos: 1 });
      const created = await stream.next((e) => e.event !== null);
      expect(created.event).toBe("incident.created");
      const incident = incidentOf(created);
      expect(incident).toMatchObject({ eventId: ev.id, projectId, deviceId: "live-a", status: "open", verdicts: [] });
      expect(incident.mediaSha256).toBeNull();

      // its frame arrives after it: open consoles get the incident again, now with the frame
      const media = await t.call<{ sha256: string }>("PUT", `/api/v1/events/${ev.id}/media`, {
        auth: basic("live-a", secrets["live-a"]!),
        headers: { "content-type": "image/jpeg" },
        raw: JPEG_TINY,
      });
      expect(media.status).toBe(201);
      const framed = await stream.next((e) => e.event !== null);
      expect(framed.event).toBe("incident.updated");
      expect(incidentOf(framed)).toMatchObject({ id: incident.id, status: "open", mediaSha256: media.json.sha256 });

      const v = await cookieCall(t.httpUrl, cookie)("POST", `/api/v1/incidents/${incident.id}/verdict`, {
        body: { verdict: "confirmed" },
      });
      expect(v.status).toBe(201);
      const updated = await stream.next((e) => e.event !== null);
      expect(updated.event).toBe("incident.updated");
      expect(incidentOf(updated)).toMatchObject({ id: incident.id, status: "confirmed", verdicts: [{ by: "sam" }] });
    } finally {
      stream.close();
    }
  });

  it("delivers to a status filter the incidents that enter or leave that status", async () => {
    const stream = await openStream(`${t.httpUrl}/api/v1/incidents/stream?status=open`, cookie);
    try {
      await stream.next((e) => e.comment === "connected");
      const ev = makeEvent("live-a", { label: "defect", score: 0.88 });
      await camA.publishAsync(topics.events("live-a"), JSON.stringify(ev), { qos: 1 });
      const created = incidentOf(await stream.next((e) => e.event === "incident.created"));
      expect(created.eventId).toBe(ev.id);
      await site.call("POST", `/api/v1/incidents/${created.id}/acknowledge`, { body: {} });
      const left = await stream.next((e) => e.event !== null);
      expect(left.event).toBe("incident.updated");
      expect(incidentOf(left)).toMatchObject({ id: created.id, status: "acknowledged", acknowledgedBy: "sam" });
      // a later change of a status the filter never had is not delivered: the next event is the new incident
      await site.call("POST", `/api/v1/incidents/${created.id}/verdict`, { body: { verdict: "false_alarm" } });
      const ev2 = makeEvent("live-a", { label: "defect", score: 0.87 });
      await camA.publishAsync(topics.events("live-a"), JSON.stringify(ev2), { qos: 1 });
      const next = await stream.next((e) => e.event !== null);
      expect(next.event).toBe("incident.created");
      expect(incidentOf(next).eventId).toBe(ev2.id);
    } finally {
      stream.close();
    }
  });

  it("keeps only each device's latest frame, uploaded by that device alone", async () => {
    const put = (id: string, auth: string, body: Uint8Array, type = "image/jpeg") =>
      t.call("PUT", `/api/v1/devices/${id}/frame`, { auth, headers: { "content-type": type }, raw: body });
    const asA = basic("live-a", secrets["live-a"]!);
    const asB = basic("live-b", secrets["live-b"]!);
    expect((await put("live-a", asA, JPEG_TINY)).status).toBe(204);

    const get = () =>
      fetch(`${t.httpUrl}/api/v1/devices/live-a/frame`, { headers: { authorization: `Bearer ${site.token}` } });
    const first = await get();
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("image/jpeg");
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(Buffer.from(await first.arrayBuffer()).equals(JPEG_TINY)).toBe(true);

    const refused = await put("live-a", asB, JPEG_TINY);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: { code: "KENSA_ERR_FORBIDDEN" } });
    expect((await put("live-a", `Bearer ${t.hub.adminToken}`, JPEG_TINY)).status).toBe(403);
    expect((await put("live-a", asA, PNG_1x1, "image/png")).json).toMatchObject({
      error: { code: "KENSA_ERR_MEDIA_INVALID" },
    });
    expect((await put("live-a", asA, JPEG_TINY.subarray(0, 40))).json).toMatchObject({
      error: { code: "KENSA_ERR_MEDIA_INVALID" },
    });
    const huge = Buffer.concat([JPEG_TINY, Buffer.alloc(2 * 1024 * 1024)]);
    const tooBig = await put("live-a", asA, huge);
    expect(tooBig.status).toBe(413);
    expect(tooBig.json).toMatchObject({ error: { code: "KENSA_ERR_UPLOAD_TOO_LARGE" } });

    const newer = await sharp({ create: { width: 32, height: 24, channels: 3, background: "#204060" } })
      .jpeg()
      .toBuffer();
    expect((await put("live-a", asA, newer)).status).toBe(204);
    expect(Buffer.from(await (await get()).arrayBuffer()).equals(newer)).toBe(true);
    const rows = await t.hub.store.db.selectFrom("device_frames").select("device_id").execute();
    expect(rows).toEqual([{ device_id: "live-a" }]);

    expect((await site.call("GET", "/api/v1/devices/live-b/frame")).json).toMatchObject({
      error: { code: "KENSA_ERR_DEVICE_FRAME_NOT_FOUND" },
    });
    expect((await site.call("GET", "/api/v1/devices/nope/frame")).json).toMatchObject({
      error: { code: "KENSA_ERR_DEVICE_NOT_FOUND" },
    });
    expect((await t.call("GET", "/api/v1/devices/live-a/frame", { auth: asA })).status).toBe(403);
    const labeler = await createUser(t.httpUrl, t.call, "labeler", "lou");
    expect((await labeler.call("GET", "/api/v1/devices/live-a/frame")).status).toBe(403);
  });

  it("closes the hub promptly with a stream still open", async () => {
    const stream = await openStream(`${t.httpUrl}/api/v1/incidents/stream`, cookie);
    await stream.next((e) => e.comment === "connected");
    const closing = t.hub.close();
    const outcome = await Promise.race([
      closing.then(() => "closed"),
      new Promise((r) => setTimeout(() => r("hung"), 5000)),
    ]);
    expect(outcome).toBe("closed");
    await expect(stream.next(() => true, 2000)).rejects.toThrow();
  });
});
