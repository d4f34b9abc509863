import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  type Backtest,
  type BacktestFrame,
  type BacktestReport,
  type Incident,
  type Job,
  topics,
  type WorkerClaimReply,
  type WorkerInfo,
} from "@kensa/contracts";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newWorkerToken } from "../src/jobs/worker-tokens.js";
import { backends, basic, connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";
import { brightnessModel, greyImage, uploadModel } from "./registry-gate-models.js";
import { WorkerProcess } from "./remote-worker-fixtures.js";

const DAY = 86_400_000;
const at = (daysAgo: number, minute: number) => new Date(Date.now() - daysAgo * DAY + minute * 60_000).toISOString();
const CAPS = { cpuCores: 2, memoryMb: 4096, cuda: false, trainers: [], version: "test", jobs: ["backtest"] };

/** a report's figures, without the replay's speed (a worker's is its own machine's) */
const figures = ({ durationMs: _d, framesPerSecond: _f, ...rest }: BacktestReport) => rest;

const list = await backends("remote-backtest");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

/**
 * A hub that replays no backtest itself (training.remote.localBacktests false): a `kensa worker`
 * process fetches the candidate and the archived frames through the job's blob route, replays
 * them with the hub's own code and posts the report, which the hub stores as its own; a result
 * from a worker that lost the lease is refused.
 */
describe.each(list)("backtests on a `kensa worker` process ($name)", (backend) => {
  let files: TempDir;
  let t: TestHub;
  let token: string;
  let projectId: string;
  let candidateId: string;
  let workerArgs: string[];
  let firstId: string;
  const cams: Record<string, MqttClient> = {};
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    files = await tempDir("kensa-remote-backtest-");
    const made = newWorkerToken();
    token = made.token;
    t = await startHub({
      database: backend.database(),
      training: {
        pollMs: 100,
        remote: { localBacktests: false, tokens: [{ name: "bt-workers", sha256: made.sha256 }], leaseMs: 2000 },
      },
    });
    workerArgs = ["--hub", t.httpUrl, "--token", token, "--cuda", "no"];
    const seeded = await seed(t.call, "remote-bt", [{ id: "cam-1" }, { id: "cam-2" }], {
      rule: { type: "threshold", labels: ["defect"], minScore: 0.5 },
    });
    projectId = seeded.projectId;
    const { secrets } = seeded;
    for (const id of ["cam-1", "cam-2"]) cams[id] = await connectDevice(t.mqttUrl, id, secrets[id]!);
    const champion = await uploadModel(t.call, projectId, brightnessModel(0.5), "champion");
    candidateId = (await uploadModel(t.call, projectId, brightnessModel(0.3), "candidate")).id;

    // frames the champion decided, with verdicts; one never uploaded, one whose blob is gone; a labelled capture
    const frame = async (device: string, ts: string, level: number | null, tag: number, verdict?: string) => {
      const defect = level === null || level > 127;
      const ev = makeEvent(device, {
        ts,
        label: defect ? "defect" : "ok",
        score: 0.9,
        media: true,
        bundle: { sha256: "b".repeat(64), modelVersionId: champion.id },
      });
      let sha: string | null = null;
      if (level !== null) {
        const { png } = await greyImage(level, tag);
        const r = await t.call<{ sha256: string }>("PUT", `/api/v1/events/${ev.id}/media`, {
          auth: basic(device, secrets[device]!),
          headers: { "content-type": "image/png" },
          raw: png,
        });
        expect(r.status, JSON.stringify(r.json)).toBe(201);
        sha = r.json.sha256;
      }
      await cams[device]!.publishAsync(topics.events(device), JSON.stringify(ev), { qos: 1 });
      if (defect && verdict) {
        const inc = await waitFor(`incident of ${ev.id}`, async () => {
          const r = await t.call<{ items: Incident[] }>("GET", `/api/v1/incidents?projectId=${projectId}&limit=1000`);
          return r.json.items.find((i) => i.eventId === ev.id);
        });
        const v = await t.call("POST", `/api/v1/incidents/${inc.id}/verdict`, { body: { verdict } });
        expect(v.status).toBe(201);
      }
      return sha;
    };
    await frame("cam-1", at(3, 1), 200, 1, "confirmed");
    await frame("cam-1", at(3, 2), 100, 2);
    await frame("cam-2", at(2, 1), 140, 3, "false_alarm");
    await frame("cam-2", at(2, 2), 60, 4);
    await frame("cam-2", at(1, 1), null, 5);
    const gone = await frame("cam-1", at(1, 2), 150, 6);
    await t.hub.blobs.delete(gone!);
    const { png } = await greyImage(90, 7);
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
      return Number(n.n) === 6 ? true : undefined;
    });
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) w.kill("SIGKILL");
    for (const c of Object.values(cams)) await c.endAsync(true);
    await t?.close();
    await files?.remove();
  });

  const startWorker = (n: number) => {
    const w = new WorkerProcess([...workerArgs, "--data-dir", join(files.path, `worker-${n}`)]);
    workers.push(w);
    return w;
  };
  const request = async (body: Record<string, unknown> = {}) => {
    const r = await t.call<Backtest>("POST", `/api/v1/projects/${projectId}/backtests`, {
      body: { modelVersionId: candidateId, ...body },
    });
    expect(r.status, JSON.stringify(r.json)).toBe(202);
    return r.json;
  };
  const get = async (id: string) => (await t.call<Backtest>("GET", `/api/v1/backtests/${id}`)).json;
  const jobOf = async (bt: Backtest) =>
    (await t.call<{ items: Job[] }>("GET", `/api/v1/jobs?projectId=${projectId}&type=backtest`)).json.items.find(
      (j) => j.refId === bt.id,
    )!;
  const ended = (id: string, w: WorkerProcess) =>
    waitFor(
      `backtest ${id} ends`,
      async () => {
        const b = await get(id);
        return b.status === "succeeded" || b.status === "failed" ? b : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 100 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the worker said:\n${w.out}`);
    });
  const asWorker = <T>(method: string, path: string, body?: unknown) =>
    t.call<T>(method, `/api/v1/workers${path}`, { auth: `Bearer ${token}`, ...(body ? { body } : {}) });
  const framesOf = async (id: string) =>
    (await t.call<{ items: BacktestFrame[] }>("GET", `/api/v1/backtests/${id}/frames`)).json.items;

  it("the worker replays the backtest and the hub stores the report it computes itself", async () => {
    const queued = await request();
    // the hub runs no backtest itself: without a worker it waits in the queue
    await new Promise((r) => setTimeout(r, 1500));
    expect((await get(queued.id)).status).toBe("queued");
    expect((await jobOf(queued)).status).toBe("queued");

    const w = startWorker(1);
    const bt = await ended(queued.id, w);
    expect(bt.status, JSON.stringify(bt.error)).toBe("succeeded");
    firstId = bt.id;
    expect(w.out).toContain(`backtest ${bt.id} of model ${candidateId}`);
    expect(w.out).toMatch(/backtest succeeded, 1 frame\(s\) gone from the hub/);
    const job = await jobOf(bt);
    expect([job.status, job.attempts]).toEqual(["succeeded", 1]);
    const rep = bt.report!;
    // figures that show the replay really ran: decisions changed, both kinds of skip kept
    expect(rep.totals).toMatchObject({ frames: 5, skipped: 2, judged: 3, incidents: { added: 1, removed: 0 } });
    expect(rep.skippedByReason).toEqual({ media_not_uploaded: 1, blob_missing: 1 });
    expect(rep.framesPerSecond).toBeGreaterThan(0);

    // the same request computed here, with the hub's blob store: the same report (as stored) and frames
    const local = await t.hub.backtests.service.compute(bt.id);
    const kept = (await t.hub.backtests.service.store.get(bt.id)).report!;
    expect(figures(kept)).toEqual(figures(local.report));
    expect(await framesOf(bt.id)).toEqual(local.frames);

    const listed = (await t.call<{ items: WorkerInfo[] }>("GET", "/api/v1/workers")).json.items;
    expect(listed.find((x) => w.out.includes(x.workerId))?.capabilities.jobs).toEqual([
      "train",
      "evaluate",
      "backtest",
      "import",
      "export",
    ]);
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  }, 60_000);

  it("a result after the lease was lost is refused; the backtest is stored once", async () => {
    // no worker of the test before may take the job from the hand-driven ones
    for (const w of workers) w.kill("SIGKILL");
    const queued = await request({ captures: false });
    const claimAs = (workerId: string) =>
      waitFor(
        `${workerId} claims the backtest`,
        async () =>
          (await asWorker<WorkerClaimReply>("POST", "/claim", { workerId, capabilities: CAPS })).json.backtest ?? null,
        { timeoutMs: 20_000, intervalMs: 200 },
      );
    const first = await claimAs("by-hand");
    expect(first).toMatchObject({ backtestId: queued.id, attempt: 1, modelVersionId: candidateId });
    expect(first.frames).toHaveLength(6);
    expect((await get(queued.id)).status).toBe("running");
    // the job's blobs are served and check out; a blob it does not read is not, whatever the store holds
    const q = "?workerId=by-hand&attempt=1";
    const frame = first.files[0]!;
    const got = await fetch(`${t.httpUrl}/api/v1/workers/jobs/${first.jobId}/blobs/${frame.sha256}${q}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(got.status).toBe(200);
    expect(
      createHash("sha256")
        .update(new Uint8Array(await got.arrayBuffer()))
        .digest("hex"),
    ).toBe(frame.sha256);
    const foreign = (await t.hub.store.db.selectFrom("samples").select("image_sha256").execute())
      .map((s) => s.image_sha256)
      .find((sha) => sha && !first.files.some((f) => f.sha256 === sha))!;
    expect(foreign).toBeTruthy();
    const other = await asWorker<{ error: { code: string } }>("GET", `/jobs/${first.jobId}/blobs/${foreign}${q}`);
    expect(other.json.error.code).toBe("KENSA_ERR_BLOB_NOT_FOUND");

    // by-hand never renews: after the lease the job is claimed again
    const second = await claimAs("by-hand-2");
    expect(second).toMatchObject({ jobId: first.jobId, attempt: 2 });
    // a well-formed result: the first backtest's report and frames
    const stored = await get(firstId);
    const body = { report: stored.report, frames: await framesOf(stored.id), error: null };
    // a report whose figures do not add up to its frames is refused, even from the holder
    const lie = { ...body, report: { ...stored.report!, totals: { ...stored.report!.totals, frames: 99 } } };
    const refused = await asWorker<{ error: { code: string } }>("POST", `/jobs/${first.jobId}/backtest`, {
      ...lie,
      workerId: "by-hand-2",
      attempt: 2,
    });
    expect(refused.json.error.code).toBe("KENSA_ERR_VALIDATION");
    const late = await asWorker<{ error: { code: string } }>("POST", `/jobs/${first.jobId}/backtest`, {
      ...body,
      workerId: "by-hand",
      attempt: 1,
    });
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe("KENSA_ERR_WORKER_LEASE_LOST");
    expect((await asWorker("POST", `/jobs/${first.jobId}/release`, { workerId: "by-hand-2", attempt: 2 })).status).toBe(
      204,
    );
    expect((await get(queued.id)).status).toBe("queued");

    const w = startWorker(2);
    const bt = await ended(queued.id, w);
    expect(bt.status, JSON.stringify(bt.error)).toBe("succeeded");
    expect(bt.report!.bounds.captures).toBe(false);
    const kept = (await t.hub.backtests.service.store.get(bt.id)).report!;
    expect(figures(kept)).toEqual(figures((await t.hub.backtests.service.compute(bt.id)).report));
    // the dead attempts' results stay refused after the end; the stored report is the worker's
    for (const [workerId, attempt] of [
      ["by-hand", 1],
      ["by-hand-2", 2],
    ] as const) {
      const r = await asWorker<{ error: { code: string } }>("POST", `/jobs/${first.jobId}/backtest`, {
        ...body,
        workerId,
        attempt,
      });
      expect(r.json.error.code).toBe("KENSA_ERR_WORKER_LEASE_LOST");
    }
    const job = await jobOf(bt);
    expect([job.status, job.attempts]).toEqual(["succeeded", 3]);
    expect((await get(bt.id)).report).toEqual(bt.report);
    expect(bt.report!.totals.frames).toBe(4);
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  }, 60_000);
});
