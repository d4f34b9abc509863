import { type Incident, type StoredEvent, topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

const list = await backends("ingest");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("ingest, incidents, verdicts and media ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let secrets: Record<string, string>;
  let a: MqttClient;
  const counters = () => t.hub.ingest.counters;
  const publish = (topic: string, payload: string | Buffer) => a.publishAsync(topic, payload, { qos: 1 });

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    ({ projectId, secrets } = await seed(t.call, "line", [{ id: "cam-1" }, { id: "cam-2" }], {
      rule: { type: "threshold", labels: ["defect"], minScore: 0.6 },
    }));
    a = await connectDevice(t.mqttUrl, "cam-1", secrets["cam-1"]!);
  });
  afterAll(async () => {
    await a?.endAsync(true);
    await t.close();
  });

  it("counts and drops malformed payloads, and keeps serving", async () => {
    const before = { ...counters() };
    await publish(topics.events("cam-1"), "not json {");
    await publish(topics.events("cam-1"), JSON.stringify({ v: 1, id: "x" }));
    await publish(topics.events("cam-1"), JSON.stringify({ ...makeEvent("cam-1"), v: 2 }));
    await publish(topics.events("cam-1"), JSON.stringify(makeEvent("cam-2"))); // topic ≠ payload device
    await publish(topics.reported("cam-1"), JSON.stringify({ v: 1 }));
    await publish(topics.telemetry("cam-1"), Buffer.from([0xff, 0xfe, 0x00]));
    await publish(topics.presence("cam-1"), JSON.stringify({ v: 1, status: "sleepy" }));
    await waitFor("7 invalid", () => counters().invalid - before.invalid === 7, { timeoutMs: 5000 });
    expect(counters().stored).toBe(before.stored);

    // an unknown device only gets past an external broker; the ingest still refuses it
    await t.hub.ingest.handle(topics.events("ghost"), Buffer.from(JSON.stringify(makeEvent("ghost"))));
    expect(counters().unknownDevice).toBe(before.unknownDevice + 1);
    await t.hub.ingest.handle("kensa/v1/devices/UPPER/events", Buffer.from("{}"));
    expect(counters().invalid).toBe(before.invalid + 8);

    // still serving: HTTP answers and a valid event is stored
    expect((await t.call("GET", "/health")).status).toBe(200);
    const ok = makeEvent("cam-1");
    await publish(topics.events("cam-1"), JSON.stringify(ok));
    await waitFor("valid event stored", async () => (await t.call("GET", `/api/v1/events/${ok.id}`)).status === 200);
    const stats = await t.call<{ ingest: typeof before }>("GET", "/api/v1/stats");
    expect(stats.json.ingest.invalid).toBe(before.invalid + 8);
    expect(stats.json.ingest.unknownDevice).toBe(before.unknownDevice + 1);
  });

  it("stores an event once however often it is delivered", async () => {
    const before = { ...counters() };
    const ev = makeEvent("cam-1", { label: "defect", score: 0.95 });
    for (let i = 0; i < 3; i++) await publish(topics.events("cam-1"), JSON.stringify(ev));
    await waitFor(
      "all three handled",
      () => counters().stored + counters().duplicates - before.stored - before.duplicates === 3,
      { timeoutMs: 5000 },
    );
    expect(counters().stored - before.stored).toBe(1);
    expect(counters().duplicates - before.duplicates).toBe(2);
    const rows = await t.call<{ items: StoredEvent[] }>("GET", `/api/v1/events?deviceId=cam-1&limit=1000`);
    expect(rows.json.items.filter((e) => e.id === ev.id)).toHaveLength(1);
    const incidents = await t.call<{ items: Incident[] }>("GET", "/api/v1/incidents");
    expect(incidents.json.items.filter((i) => i.eventId === ev.id)).toHaveLength(1);
  });

  it("raises incidents only for findings at or above the rule's score", async () => {
    const ok = makeEvent("cam-1", { label: "ok", score: 0.99 });
    const weak = makeEvent("cam-1", { label: "defect", score: 0.59 });
    const strong = makeEvent("cam-1", {
      label: "defect",
      score: 0.6,
      frame: { width: 8, height: 8, meta: { lot: "A7" } },
    });
    for (const e of [ok, weak, strong]) await publish(topics.events("cam-1"), JSON.stringify(e));
    await waitFor("stored", async () => (await t.call("GET", `/api/v1/events/${strong.id}`)).status === 200);
    const { json } = await t.call<{ items: Incident[] }>("GET", `/api/v1/incidents?projectId=${projectId}`);
    const ids = json.items.map((i) => i.eventId);
    expect(ids).toContain(strong.id);
    expect(ids).not.toContain(ok.id);
    expect(ids).not.toContain(weak.id);
    const inc = json.items.find((i) => i.eventId === strong.id)!;
    expect(inc).toMatchObject({
      status: "open",
      label: "defect",
      score: 0.6,
      deviceId: "cam-1",
      rule: "threshold: defect ≥ 0.60",
      modelVersionId: "mdl_test",
      frameMeta: { lot: "A7" },
      verdicts: [],
    });
    const one = await t.call<Incident>("GET", `/api/v1/incidents/${inc.id}`);
    expect(one.json.id).toBe(inc.id);
    expect((await t.call("GET", "/api/v1/incidents/inc_nope")).json).toMatchObject({
      error: { code: "KENSA_ERR_INCIDENT_NOT_FOUND" },
    });
    const open = await t.call<{ items: Incident[] }>("GET", "/api/v1/incidents?status=open&deviceId=cam-1");
    expect(open.json.items.length).toBeGreaterThanOrEqual(2);
  });

  it("lists events by device then sequence, after a sequence", async () => {
    const { json } = await t.call<{ items: StoredEvent[] }>("GET", "/api/v1/events?deviceId=cam-1&limit=1000");
    const seqs = json.items.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    const after = await t.call<{ items: StoredEvent[] }>(
      "GET",
      `/api/v1/events?deviceId=cam-1&afterSeq=${seqs[1]}&limit=1000`,
    );
    expect(after.json.items.every((e) => e.seq > seqs[1]!)).toBe(true);
    expect((await t.call("GET", "/api/v1/events?limit=0")).json).toMatchObject({
      error: { code: "KENSA_ERR_VALIDATION" },
    });
    expect((await t.call("GET", "/api/v1/events?color=red")).status).toBe(400);
  });

  it("keeps the last reported state and telemetry on the device", async () => {
    const reported = {
      v: 1,
      ts: new Date().toISOString(),
      agentVersion: "0.1.0",
      arch: "x64",
      platform: "linux",
      desiredRev: 0,
      pipelines: [],
      sources: [{ id: "cam", type: "synthetic", status: "running" }],
    };
    const telemetry = {
      v: 1,
      ts: new Date().toISOString(),
      fps: 2,
      latencyMs: { p50: 5, p95: 9 },
      framesTotal: 10,
      framesDropped: 0,
      outboxDepth: 0,
      mediaQueueDepth: 0,
    };
    await publish(topics.reported("cam-1"), JSON.stringify(reported));
    await publish(topics.telemetry("cam-1"), JSON.stringify(telemetry));
    const dev = await waitFor("reported+telemetry", async () => {
      const d = await t.call<{ reported: unknown; telemetry: unknown; lastSeenAt: string | null }>(
        "GET",
        "/api/v1/devices/cam-1",
      );
      return d.json.reported && d.json.telemetry ? d.json : null;
    });
    expect(dev.reported).toEqual(reported);
    expect(dev.telemetry).toEqual(telemetry);
    expect(dev.lastSeenAt).not.toBeNull();
  });

  it("stores verdicts with who and when, keeps history, and validates labels", async () => {
    const ev = makeEvent("cam-1", { label: "defect", score: 0.9 });
    await publish(topics.events("cam-1"), JSON.stringify(ev));
    const inc = await waitFor("incident", async () => {
      const r = await t.call<{ items: Incident[] }>("GET", "/api/v1/incidents?limit=1000");
      return r.json.items.find((i) => i.eventId === ev.id);
    });
    const path = `/api/v1/incidents/${inc.id}/verdict`;
    const relabelNoLabels = await t.call("POST", path, { body: { verdict: "relabel", by: "ana" } });
    expect(relabelNoLabels.status).toBe(422);
    expect(relabelNoLabels.json).toMatchObject({ error: { code: "KENSA_ERR_VERDICT_LABELS_REQUIRED" } });
    const unknown = await t.call("POST", path, { body: { verdict: "relabel", by: "ana", labels: ["scratch"] } });
    expect(unknown.json).toMatchObject({ error: { code: "KENSA_ERR_VERDICT_UNKNOWN_LABEL" } });
    const badWho = await t.call("POST", path, { body: { verdict: "confirmed", by: "" } });
    expect(badWho.json).toMatchObject({ error: { code: "KENSA_ERR_VALIDATION" } });
    const badKind = await t.call("POST", path, { body: { verdict: "maybe", by: "ana" } });
    expect(badKind.status).toBe(400);
    expect(
      (await t.call("POST", "/api/v1/incidents/inc_nope/verdict", { body: { verdict: "confirmed", by: "x" } })).status,
    ).toBe(404);

    const v1 = await t.call<{ by: string; createdAt: string; labels: string[] }>("POST", path, {
      body: { verdict: "confirmed", by: "ana@plant", note: "clear scratch" },
    });
    expect(v1.status).toBe(201);
    expect(v1.json).toMatchObject({ by: "ana@plant", labels: ["defect"], note: "clear scratch", verdict: "confirmed" });
    expect(Date.now() - Date.parse(v1.json.createdAt)).toBeLessThan(60_000);
    expect((await t.call<Incident>("GET", `/api/v1/incidents/${inc.id}`)).json.status).toBe("confirmed");

    await t.call("POST", path, { body: { verdict: "relabel", by: "ben", labels: ["ok"] } });
    const after = await t.call<Incident>("GET", `/api/v1/incidents/${inc.id}`);
    expect(after.json.status).toBe("relabeled");
    expect(after.json.verdicts.map((v) => [v.verdict, v.by, v.labels])).toEqual([
      ["confirmed", "ana@plant", ["defect"]],
      ["relabel", "ben", ["ok"]],
    ]);
    await t.call("POST", path, { body: { verdict: "false_alarm", by: "cy" } });
    expect((await t.call<Incident>("GET", `/api/v1/incidents/${inc.id}`)).json.status).toBe("false_alarm");
    const stats = await t.call<{ verdicts: number }>("GET", "/api/v1/stats");
    expect(stats.json.verdicts).toBe(3);
  });

  it("joins media uploaded before its event, and refuses another device's upload", async () => {
    const ev = makeEvent("cam-1", { label: "defect", score: 0.9, media: true });
    const put = (device: string, body: Buffer, type = "image/png") =>
      t.call<{ linked: boolean; sha256: string }>("PUT", `/api/v1/events/${ev.id}/media`, {
        auth: basic(device, secrets[device]!),
        headers: { "content-type": type },
        raw: body,
      });
    // media first, event later (the agent's HTTP upload can beat its MQTT publish)
    const early = await put("cam-1", PNG_1x1);
    expect(early.status).toBe(201);
    expect(early.json.linked).toBe(false);
    await publish(topics.events("cam-1"), JSON.stringify(ev));
    const inc = await waitFor("incident with media", async () => {
      const r = await t.call<{ items: Incident[] }>("GET", "/api/v1/incidents?limit=1000");
      return r.json.items.find((i) => i.eventId === ev.id && i.mediaSha256);
    });
    expect(inc.mediaSha256).toBe(early.json.sha256);
    const img = await fetch(`${t.httpUrl}/api/v1/incidents/${inc.id}/media`, {
      headers: { authorization: `Bearer ${t.hub.adminToken}` },
    });
    expect(img.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await img.arrayBuffer()).equals(PNG_1x1)).toBe(true);

    // another device may not touch it
    const foreign = await put("cam-2", JPEG_TINY, "image/jpeg");
    expect(foreign.status).toBe(403);
    expect(foreign.json).toMatchObject({ error: { code: "KENSA_ERR_FORBIDDEN" } });
    // media after the event links directly
    const late = await put("cam-1", JPEG_TINY, "image/jpeg");
    expect(late.json.linked).toBe(true);
    expect((await t.call<StoredEvent>("GET", `/api/v1/events/${ev.id}`)).json.mediaSha256).toBe(late.json.sha256);

    // not an image, a lie about the type, a wrong type, no credentials
    expect((await put("cam-1", Buffer.from("hello"), "image/png")).json).toMatchObject({
      error: { code: "KENSA_ERR_MEDIA_INVALID" },
    });
    expect((await put("cam-1", PNG_1x1, "image/jpeg")).json).toMatchObject({
      error: { code: "KENSA_ERR_MEDIA_INVALID" },
    });
    expect((await put("cam-1", PNG_1x1.subarray(0, 20), "image/png")).status).toBe(422);
    // JPEG markers around a corrupt body: only a full decode tells
    const corrupt = Buffer.from(JPEG_TINY);
    corrupt.fill(0, 200, corrupt.length - 2);
    expect((await put("cam-1", corrupt, "image/jpeg")).json).toMatchObject({
      error: { code: "KENSA_ERR_MEDIA_INVALID" },
    });
    expect((await put("cam-1", Buffer.from("{}"), "application/json")).json).toMatchObject({
      error: { code: "KENSA_ERR_MEDIA_INVALID" },
    });
    const anon = await t.call("PUT", `/api/v1/events/${ev.id}/media`, {
      auth: null,
      headers: { "content-type": "image/png" },
      raw: PNG_1x1,
    });
    expect(anon.status).toBe(401);
  });
});

describe("media size limit", () => {
  it("refuses media above limits.mediaBytes with KENSA_ERR_UPLOAD_TOO_LARGE", async () => {
    const t = await startHub({ limits: { mediaBytes: 1000 } });
    try {
      const { secrets } = await seed(t.call, "tiny", [{ id: "cam-9" }]);
      const big = Buffer.concat([PNG_1x1, Buffer.alloc(2000)]);
      const r = await t.call("PUT", "/api/v1/events/evt-12345678/media", {
        auth: basic("cam-9", secrets["cam-9"]!),
        headers: { "content-type": "image/png" },
        raw: big,
      });
      expect(r.status).toBe(413);
      expect(r.json).toMatchObject({ error: { code: "KENSA_ERR_UPLOAD_TOO_LARGE" } });
    } finally {
      await t.close();
    }
  });
});
