import { type Backtest, type BacktestFrame, type Incident, topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, basic, connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";
import { brightnessModel, greyImage, uploadModel } from "./registry-gate-models.js";

const DAY = 86_400_000;
const at = (daysAgo: number, minute: number) => new Date(Date.now() - daysAgo * DAY + minute * 60_000).toISOString();

/**
 * The champion calls a frame "defect" above mean brightness 0.5, the candidate above 0.3; the
 * frames' brightness and the recorded decisions and verdicts are chosen so that every count of
 * the report has one known value.
 */
const list = await backends("backtest");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("backtest: a candidate replayed on archived frames ($name)", (backend) => {
  let t: TestHub;
  let projectId: string;
  let secrets: Record<string, string>;
  const cams: Record<string, MqttClient> = {};
  let candidateId: string;
  let brokenId: string;
  let otherModelId: string;
  let day1: string;
  let day2: string;
  let day3: string;

  const waitDone = (id: string) =>
    waitFor(
      `backtest ${id} ends`,
      async () => {
        const r = await t.call<Backtest>("GET", `/api/v1/backtests/${id}`);
        return r.json.status === "succeeded" || r.json.status === "failed" ? r.json : undefined;
      },
      { timeoutMs: 30_000 },
    );

  beforeAll(async () => {
    t = await startHub({ database: backend.database(), training: { pollMs: 50 } });
    ({ projectId, secrets } = await seed(t.call, "bt", [{ id: "cam-1" }, { id: "cam-2" }], {
      rule: { type: "threshold", labels: ["defect"], minScore: 0.5 },
    }));
    for (const id of ["cam-1", "cam-2"]) cams[id] = await connectDevice(t.mqttUrl, id, secrets[id]!);
    const champion = await uploadModel(t.call, projectId, brightnessModel(0.5), "champion");
    candidateId = (await uploadModel(t.call, projectId, brightnessModel(0.3), "candidate")).id;
    const broken = await uploadModel(t.call, projectId, brightnessModel(0.3, 150), "broken");
    brokenId = broken.id;
    await t.hub.blobs.delete(broken.sha256);
    const other = await seed(t.call, "bt-other", []);
    otherModelId = (await uploadModel(t.call, other.projectId, brightnessModel(0.3), "elsewhere")).id;

    const upload = async (device: string, eventId: string, level: number, tag: number) => {
      const { png } = await greyImage(level, tag);
      const r = await t.call<{ sha256: string }>("PUT", `/api/v1/events/${eventId}/media`, {
        auth: basic(device, secrets[device]!),
        headers: { "content-type": "image/png" },
        raw: png,
      });
      if (r.status !== 201) throw new Error(`media: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json.sha256;
    };
    const frame = async (
      device: string,
      ts: string,
      o: { level?: number; tag: number; champion: "defect" | "ok"; verdict?: "confirmed" | "false_alarm" },
    ) => {
      const ev = makeEvent(device, {
        ts,
        label: o.champion,
        score: 0.9,
        media: true,
        bundle: { sha256: "b".repeat(64), modelVersionId: champion.id },
      });
      const sha = o.level === undefined ? null : await upload(device, ev.id, o.level, o.tag);
      await cams[device]!.publishAsync(topics.events(device), JSON.stringify(ev), { qos: 1 });
      if (o.champion === "ok") return { ev, sha };
      const inc = await waitFor(`incident of ${ev.id}`, async () => {
        const r = await t.call<{ items: Incident[] }>("GET", `/api/v1/incidents?projectId=${projectId}&limit=1000`);
        return r.json.items.find((i) => i.eventId === ev.id);
      });
      if (o.verdict) {
        const v = await t.call("POST", `/api/v1/incidents/${inc.id}/verdict`, { body: { verdict: o.verdict } });
        if (v.status !== 201) throw new Error(`verdict: ${v.status}`);
      }
      return { ev, sha };
    };
    day1 = at(3, 0);
    day2 = at(2, 0);
    day3 = at(1, 0);
    // F1 bright, confirmed: both flag it
    await frame("cam-1", at(3, 1), { level: 200, tag: 1, champion: "defect", verdict: "confirmed" });
    // F2 mean 0.39, champion let it pass: the candidate adds an incident
    await frame("cam-1", at(3, 2), { level: 100, tag: 2, champion: "ok" });
    // F3 mean 0.43, flagged and rejected: the candidate keeps the false alarm
    await frame("cam-1", at(2, 1), { level: 110, tag: 3, champion: "defect", verdict: "false_alarm" });
    // F4 dark, flagged and confirmed: the candidate drops it (a miss added)
    await frame("cam-2", at(2, 2), { level: 50, tag: 4, champion: "defect", verdict: "confirmed" });
    // F5 dark, flagged and rejected: the candidate drops it (a false alarm removed)
    await frame("cam-2", at(2, 3), { level: 30, tag: 5, champion: "defect", verdict: "false_alarm" });
    // F6 its frame never arrived; F7 its blob is gone: both skipped
    await frame("cam-2", at(1, 1), { tag: 6, champion: "defect" });
    const f7 = await frame("cam-1", at(1, 2), { level: 150, tag: 7, champion: "defect" });
    await t.hub.blobs.delete(f7.sha!);
    // C1 a capture of mean 0.35 a person labelled OK: a false alarm of the candidate
    const { png } = await greyImage(90, 8);
    const cap = await t.call<{ sample: { id: string } }>(
      "PUT",
      `/api/v1/captures/cap-0000001?reason=low_confidence&ts=${encodeURIComponent(at(1, 3))}`,
      { auth: basic("cam-1", secrets["cam-1"]!), headers: { "content-type": "image/png" }, raw: png },
    );
    expect(cap.status, JSON.stringify(cap.json)).toBe(201);
    const lab = await t.call("POST", `/api/v1/samples/${cap.json.sample.id}/labels`, {
      body: { content: { classes: ["ok"], objects: [], anomaly: null } },
    });
    expect(lab.status).toBe(201);
    await waitFor("events stored", async () => {
      const n = await t.hub.store.db
        .selectFrom("events")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("project_id", "=", projectId)
        .executeTakeFirstOrThrow();
      return Number(n.n) === 7 ? true : undefined;
    });
  });
  afterAll(async () => {
    for (const c of Object.values(cams)) await c.endAsync(true);
    await t?.close();
  });

  it("counts added and removed incidents, false alarms and misses exactly", async () => {
    const r = await t.call<Backtest>("POST", `/api/v1/projects/${projectId}/backtests`, {
      body: { modelVersionId: candidateId },
    });
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ status: "queued", modelVersionId: candidateId, request: { limit: 1000 } });
    const bt = await waitDone(r.json.id);
    expect(bt.error).toBeNull();
    expect(bt.status).toBe("succeeded");
    const rep = bt.report!;
    expect(rep.bounds).toMatchObject({ limit: 1000, maxLimit: 10_000, inWindow: 8, truncated: false, captures: true });
    expect(Date.parse(rep.bounds.until) - Date.parse(rep.bounds.since)).toBe(30 * DAY);
    expect(rep.rules).toEqual([expect.objectContaining({ type: "threshold", labels: ["defect"], minScore: 0.5 })]);
    expect(rep.totals).toEqual({
      frames: 6,
      skipped: 2,
      judged: 5,
      champion: { decided: 5, incidents: 4, falseAlarms: 2, misses: 0 },
      candidate: { incidents: 4, falseAlarms: 2, misses: 1 },
      incidents: { added: 1, removed: 2 },
      falseAlarms: { added: 0, removed: 1 },
      misses: { added: 1, removed: 0 },
    });
    expect(rep.skippedByReason).toEqual({ media_not_uploaded: 1, blob_missing: 1 });
    expect(rep.skipped.map((s) => [s.deviceId, s.reason])).toEqual([
      ["cam-2", "media_not_uploaded"],
      ["cam-1", "blob_missing"],
    ]);
    const byKey = (g: typeof rep.perDay) => Object.fromEntries(g.map((x) => [x.key, x]));
    const days = byKey(rep.perDay);
    expect(Object.keys(days)).toEqual([day1, day2, day3].map((d) => d.slice(0, 10)));
    expect(days[day1.slice(0, 10)]).toMatchObject({ frames: 2, incidents: { added: 1, removed: 0 } });
    expect(days[day2.slice(0, 10)]).toMatchObject({
      frames: 3,
      incidents: { added: 0, removed: 2 },
      falseAlarms: { added: 0, removed: 1 },
      misses: { added: 1, removed: 0 },
    });
    expect(days[day3.slice(0, 10)]).toMatchObject({ frames: 1, skipped: 2, candidate: { falseAlarms: 1 } });
    const devices = byKey(rep.perDevice);
    expect(devices["cam-1"]).toEqual({
      key: "cam-1",
      frames: 4,
      skipped: 1,
      judged: 3,
      champion: { decided: 3, incidents: 2, falseAlarms: 1, misses: 0 },
      candidate: { incidents: 4, falseAlarms: 2, misses: 0 },
      incidents: { added: 1, removed: 0 },
      falseAlarms: { added: 0, removed: 0 },
      misses: { added: 0, removed: 0 },
    });
    expect(devices["cam-2"]).toEqual({
      key: "cam-2",
      frames: 2,
      skipped: 1,
      judged: 2,
      champion: { decided: 2, incidents: 2, falseAlarms: 1, misses: 0 },
      candidate: { incidents: 0, falseAlarms: 0, misses: 1 },
      incidents: { added: 0, removed: 2 },
      falseAlarms: { added: 0, removed: 1 },
      misses: { added: 1, removed: 0 },
    });

    const frames = await t.call<{ items: BacktestFrame[] }>("GET", `/api/v1/backtests/${bt.id}/frames`);
    expect(frames.json.items.map((f) => f.change)).toEqual(["same", "added", "same", "removed", "removed", "unknown"]);
    const added = await t.call<{ items: BacktestFrame[] }>("GET", `/api/v1/backtests/${bt.id}/frames?change=added`);
    expect(added.json.items).toHaveLength(1);
    expect(added.json.items[0]).toMatchObject({
      kind: "event",
      champion: { incident: false },
      candidate: { incident: true, label: "defect", rule: "threshold: defect ≥ 0.50" },
    });

    const audit = await t.hub.store.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "model.backtest")
      .execute();
    expect(audit.map((a) => a.target_id)).toEqual([candidateId]);
    const list = await t.call<{ items: Backtest[] }>("GET", `/api/v1/projects/${projectId}/backtests`);
    expect(list.json.items.map((b) => b.id)).toContain(bt.id);
  });

  it("applies the rules the candidate's bundle would carry: its own rules win over the project's", async () => {
    const m = brightnessModel(0.3, 120);
    const own = await uploadModel(
      t.call,
      projectId,
      {
        onnx: m.onnx,
        manifest: {
          ...m.manifest,
          // a deliberately odd rule: any frame the model scores "ok" is an incident
          rules: [{ id: "dark", name: "dark frame", type: "forbidden-class", labels: ["ok"], minScore: 0.5 }],
        },
      },
      "own-rules",
    );
    const r = await t.call<Backtest>("POST", `/api/v1/projects/${projectId}/backtests`, {
      body: { modelVersionId: own.id, captures: false },
    });
    const bt = await waitDone(r.json.id);
    expect(bt.report?.rules.map((u) => u.id)).toEqual(["dark"]);
    // F4 and F5 (dark) hit; F1 and F3 lose the champion's incident; no capture replayed
    expect(bt.report?.totals).toMatchObject({
      frames: 5,
      candidate: { incidents: 2 },
      incidents: { added: 0, removed: 2 },
    });
    const frames = await t.call<{ items: BacktestFrame[] }>("GET", `/api/v1/backtests/${bt.id}/frames`);
    expect(frames.json.items.filter((f) => f.candidate.incident).map((f) => f.candidate.rule)).toEqual([
      "dark frame",
      "dark frame",
    ]);
  });

  it("bounds the frames: the most recent `limit`, and says what was left out", async () => {
    const r = await t.call<Backtest>("POST", `/api/v1/projects/${projectId}/backtests`, {
      body: { modelVersionId: candidateId, limit: 3, deviceIds: ["cam-1"] },
    });
    const bt = await waitDone(r.json.id);
    expect(bt.report?.bounds).toMatchObject({ limit: 3, inWindow: 5, truncated: true, deviceIds: ["cam-1"] });
    // F3, F7 (skipped) and C1: the three most recent of cam-1
    expect(bt.report?.totals).toMatchObject({ frames: 2, skipped: 1 });
  });

  it("refuses an unknown model, a model of another project, an empty window and a reversed one", async () => {
    const post = (body: Record<string, unknown>) =>
      t.call<{ error: { code: string } }>("POST", `/api/v1/projects/${projectId}/backtests`, { body });
    const unknown = await post({ modelVersionId: "mdl_nope" });
    expect([unknown.status, unknown.json.error.code]).toEqual([404, "KENSA_ERR_MODEL_NOT_FOUND"]);
    const other = await post({ modelVersionId: otherModelId });
    expect([other.status, other.json.error.code]).toEqual([422, "KENSA_ERR_BACKTEST_MODEL_PROJECT_MISMATCH"]);
    const empty = await post({
      modelVersionId: candidateId,
      since: "2020-01-01T00:00:00Z",
      until: "2020-02-01T00:00:00Z",
    });
    expect([empty.status, empty.json.error.code]).toEqual([422, "KENSA_ERR_BACKTEST_NO_FRAMES"]);
    const reversed = await post({ modelVersionId: candidateId, since: at(1, 0), until: at(2, 0) });
    expect([reversed.status, reversed.json.error.code]).toEqual([400, "KENSA_ERR_BACKTEST_RANGE_INVALID"]);
    const missing = await t.call<{ error: { code: string } }>("GET", "/api/v1/backtests/btst_nope");
    expect([missing.status, missing.json.error.code]).toEqual([404, "KENSA_ERR_BACKTEST_NOT_FOUND"]);
  });

  it("reports a failed job with its code: the candidate's file is missing", async () => {
    const r = await t.call<Backtest>("POST", `/api/v1/projects/${projectId}/backtests`, {
      body: { modelVersionId: brokenId },
    });
    expect(r.status).toBe(202);
    const bt = await waitDone(r.json.id);
    expect(bt.status).toBe("failed");
    expect(bt.error?.code).toBe("KENSA_ERR_BLOB_NOT_FOUND");
    expect(bt.report).toBeNull();
    const job = await t.hub.store.db
      .selectFrom("jobs")
      .selectAll()
      .where("id", "=", bt.jobId!)
      .executeTakeFirstOrThrow();
    expect(job.status).toBe("failed");
    expect(JSON.parse(job.error!)).toMatchObject({ code: "KENSA_ERR_BLOB_NOT_FOUND" });
  });
});
