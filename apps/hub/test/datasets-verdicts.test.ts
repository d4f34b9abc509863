import { type Incident, type LabelingQueue, type Sample, type SampleWithHistory, topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allSamples, image } from "./datasets-fixtures.js";
import { backends, basic, connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

const list = await backends("datasets_verdicts");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("verdicts become labels, captures, the labeling queue ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let secrets: Record<string, string>;
  let cam: MqttClient;

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    ({ projectId, secrets } = await seed(t.call, "verdicts", [{ id: "cam-1" }, { id: "cam-2" }], {
      rule: { type: "threshold", labels: ["defect"], minScore: 0.6 },
    }));
    cam = await connectDevice(t.mqttUrl, "cam-1", secrets["cam-1"]!);
  });
  afterAll(async () => {
    await cam?.endAsync(true);
    await t?.close();
  });

  const uploadMedia = (eventId: string, body: Buffer) =>
    t.call<{ sha256: string }>("PUT", `/api/v1/events/${eventId}/media`, {
      auth: basic("cam-1", secrets["cam-1"]!),
      headers: { "content-type": "image/jpeg" },
      raw: body,
    });
  const incidentOf = (eventId: string) =>
    waitFor(`incident of ${eventId}`, async () => {
      const r = await t.call<{ items: Incident[] }>("GET", `/api/v1/incidents?projectId=${projectId}&limit=1000`);
      return r.json.items.find((i) => i.eventId === eventId);
    });
  const sampleOf = async (incidentId: string) => {
    const s = (await allSamples(t.call, projectId)).find((x) => x.provenance.incidentId === incidentId);
    if (!s) throw new Error(`no sample for ${incidentId}`);
    return (await t.call<SampleWithHistory>("GET", `/api/v1/samples/${s.id}`)).json;
  };
  const verdict = (incidentId: string, body: Record<string, unknown>) =>
    t.call<{ id: string }>("POST", `/api/v1/incidents/${incidentId}/verdict`, { body });

  let confirmedSample: SampleWithHistory;

  it("a confirmed incident becomes a sample with the incident's frame and a label with provenance", async () => {
    const frame = await image(201);
    const ev = makeEvent("cam-1", { label: "defect", score: 0.9, media: true });
    const media = await uploadMedia(ev.id, frame);
    expect(media.status).toBe(201);
    await cam.publishAsync(topics.events("cam-1"), JSON.stringify(ev), { qos: 1 });
    const inc = await incidentOf(ev.id);
    const v = await verdict(inc.id, { verdict: "confirmed", by: "ana@plant", note: "clear scratch" });
    expect(v.status).toBe(201);

    const s = await sampleOf(inc.id);
    expect(s.image).toEqual({ sha256: media.json.sha256, format: "jpeg", width: 48, height: 40 });
    expect(s.provenance).toMatchObject({
      source: "verdict",
      deviceId: "cam-1",
      incidentId: inc.id,
      eventId: ev.id,
      capturedAt: ev.ts,
      prediction: { label: "defect", score: 0.9 },
    });
    expect(s.status).toBe("labeled");
    expect(s.label).toMatchObject({
      rev: 1,
      by: "ana@plant",
      source: "verdict",
      verdictId: v.json.id,
      status: "labeled",
      content: { classes: ["defect"], objects: [], anomaly: null },
      sha256: expect.stringMatching(/^[a-f0-9]{64}$/),
    });
    const img = await fetch(`${t.httpUrl}/api/v1/samples/${s.id}/image`, {
      headers: { authorization: `Bearer ${t.hub.adminToken}` },
    });
    expect(Buffer.from(await img.arrayBuffer()).equals(frame)).toBe(true);

    // a later relabel verdict is a new revision; the first one is kept as it was
    await verdict(inc.id, { verdict: "relabel", by: "ben", labels: ["ok"] });
    const after = await sampleOf(inc.id);
    expect(after.id).toBe(s.id);
    expect(after.revisions.map((r) => [r.rev, r.by, r.content.classes])).toEqual([
      [1, "ana@plant", ["defect"]],
      [2, "ben", ["ok"]],
    ]);
    expect(after.revisions[0]).toEqual(s.label);
    await verdict(inc.id, { verdict: "confirmed", by: "cy" });
    confirmedSample = await sampleOf(inc.id);
    expect(confirmedSample.label?.content.classes).toEqual(["defect"]);
  });

  it("a false alarm whose media comes after the verdict: OK label now, image when it arrives", async () => {
    const ev = makeEvent("cam-1", { label: "defect", score: 0.7, media: true });
    await cam.publishAsync(topics.events("cam-1"), JSON.stringify(ev), { qos: 1 });
    const inc = await incidentOf(ev.id);
    await verdict(inc.id, { verdict: "false_alarm", by: "ana@plant" });
    const before = await sampleOf(inc.id);
    expect(before.image).toBeNull();
    expect(before.label?.content.classes).toEqual(["ok"]);
    expect((await t.call("GET", `/api/v1/samples/${before.id}/image`)).json).toMatchObject({
      error: { code: "KENSA_ERR_BLOB_NOT_FOUND" },
    });
    // a sample without its image stays out of snapshots until the frame arrives
    const frame = await image(202);
    const media = await uploadMedia(ev.id, frame);
    const after = await sampleOf(inc.id);
    expect(after.image?.sha256).toBe(media.json.sha256);
    expect(after.label).toEqual(before.label);
  });

  it("devices capture frames for learning, idempotently, and only for themselves", async () => {
    const frame = await image(203);
    const put = (id: string, query: string, auth = basic("cam-1", secrets["cam-1"]!), body: Buffer = frame) =>
      t.call<{ sample: Sample; created: boolean }>("PUT", `/api/v1/captures/${id}?${query}`, {
        auth,
        headers: { "content-type": "image/jpeg" },
        raw: body,
      });
    const first = await put("cap-0000001", "reason=low_confidence&label=defect&score=0.51&ts=2025-01-02T03:04:05.000Z");
    expect(first.status).toBe(201);
    expect(first.json.sample).toMatchObject({
      status: "unlabeled",
      label: null,
      provenance: {
        source: "capture",
        deviceId: "cam-1",
        reason: "low_confidence",
        capturedAt: "2025-01-02T03:04:05.000Z",
        prediction: { label: "defect", score: 0.51 },
      },
    });
    const retry = await put("cap-0000001", "reason=low_confidence");
    expect(retry.status).toBe(200);
    expect(retry.json).toMatchObject({ created: false, sample: { id: first.json.sample.id } });
    expect((await put("cap-0000002", "reason=x", undefined, Buffer.from("nope"))).json).toMatchObject({
      error: { code: "KENSA_ERR_MEDIA_INVALID" },
    });
    expect((await put("cap-0000003", "reason=x&deviceId=cam-2")).status).toBe(403);
    expect((await put("cap-0000004", "")).status).toBe(400);
    const admin = await put(
      "cap-0000005",
      "reason=periodic&deviceId=cam-2",
      `Bearer ${t.hub.adminToken}`,
      await image(204),
    );
    expect(admin.json.sample.provenance.deviceId).toBe("cam-2");
  });

  it("the labeling queue puts verdicts and uncertain captures before other unlabeled samples", async () => {
    const up = await t.call<Sample>("POST", `/api/v1/projects/${projectId}/samples?reason=line%20photo`, {
      headers: { "content-type": "image/png" },
      raw: await image(205, "png"),
    });
    expect(up.status).toBe(201);
    const labeled = await t.call<Sample>("POST", `/api/v1/projects/${projectId}/samples?classes=defect&by=dora`, {
      headers: { "content-type": "image/jpeg" },
      raw: await image(206),
    });
    expect(labeled.json.label).toMatchObject({ by: "dora", source: "upload", content: { classes: ["defect"] } });
    const unknown = await t.call("POST", `/api/v1/projects/${projectId}/samples?classes=rust`, {
      headers: { "content-type": "image/jpeg" },
      raw: await image(207),
    });
    expect(unknown.json).toMatchObject({ error: { code: "KENSA_ERR_LABEL_INVALID" } });

    const q = await t.call<LabelingQueue>("GET", `/api/v1/projects/${projectId}/labeling-queue`);
    expect(q.json.groups.map((g) => [g.key, g.count])).toEqual([
      ["positives", 1],
      ["false_positives", 1],
      ["uncertain", 2],
      ["unlabeled", 1],
    ]);
    expect(q.json.groups[0]?.items[0]?.id).toBe(confirmedSample.id);
    expect(q.json.groups[3]?.items[0]?.id).toBe(up.json.id);
    expect(q.json.total).toBe(5);

    // reviewing keeps the content (same hash) and takes the sample out of the queue
    const reviewed = await t.call<SampleWithHistory>("POST", `/api/v1/samples/${confirmedSample.id}/labels`, {
      body: { by: "qa-lead", status: "reviewed" },
    });
    expect(reviewed.status).toBe(201);
    expect(reviewed.json.status).toBe("reviewed");
    expect(reviewed.json.label?.sha256).toBe(confirmedSample.label?.sha256);
    expect(reviewed.json.revisions).toHaveLength(confirmedSample.revisions.length + 1);
    const q2 = await t.call<LabelingQueue>("GET", `/api/v1/projects/${projectId}/labeling-queue?limit=0`);
    expect(q2.json.groups[0]).toMatchObject({ key: "positives", count: 0, items: [] });

    // labeling the uploaded one by hand, with a box that must fit the image
    const box = await t.call("POST", `/api/v1/samples/${up.json.id}/labels`, {
      body: {
        by: "dora",
        content: { classes: ["defect"], objects: [{ label: "defect", box: { x: 40, y: 0, w: 20, h: 5 } }] },
      },
    });
    expect(box.json).toMatchObject({ error: { code: "KENSA_ERR_LABEL_INVALID" } });
    const ok = await t.call<SampleWithHistory>("POST", `/api/v1/samples/${up.json.id}/labels`, {
      body: {
        by: "dora",
        content: { classes: ["defect"], objects: [{ label: "defect", box: { x: 4, y: 0, w: 20, h: 5 } }] },
      },
    });
    expect(ok.json.label?.content.objects).toEqual([{ label: "defect", box: { x: 4, y: 0, w: 20, h: 5 } }]);
    const stats = await t.call<{ byStatus: Record<string, number>; bySource: Record<string, number> }>(
      "GET",
      `/api/v1/projects/${projectId}/dataset-stats`,
    );
    expect(stats.json.bySource).toEqual({ verdict: 2, capture: 2, upload: 2 });
    expect(stats.json.byStatus).toEqual({ reviewed: 1, labeled: 3, unlabeled: 2 });
  });
});
