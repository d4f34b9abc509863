import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { DatasetExport, DatasetImport, Job, Sample, WorkerClaimReply } from "@kensa/contracts";
import { repoRoot, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newWorkerToken } from "../src/jobs/worker-tokens.js";
import {
  allSamples,
  createProject,
  exportArchive,
  type FixtureFile,
  image,
  importArchive,
  maskPng,
  pack,
} from "./datasets-fixtures.js";
import { backends, startHub, type TestHub } from "./helpers.js";
import { WorkerProcess } from "./remote-worker-fixtures.js";

const LABELS = ["ok", "scratch", "dent"];
const CAPS = { cpuCores: 2, memoryMb: 4096, cuda: false, trainers: [], version: "test", jobs: ["import"] };
const run = promisify(execFile);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

const list = await backends("remote-datasets");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

/** an imagefolder archive with masks, a corrupt image, a duplicate and a file that is not dataset content */
async function mixedArchive(): Promise<Buffer> {
  const files: FixtureFile[] = [
    { path: "ok/a.jpg", data: await image(1) },
    { path: "ok/b.png", data: await image(2, "png") },
    { path: "scratch/c.jpg", data: await image(3) },
    { path: "scratch/c_mask.png", data: await maskPng(48, 40, { x: 4, y: 5, w: 10, h: 6 }) },
    { path: "dent/sub/d.jpg", data: await image(4) },
    { path: "dent/again.jpg", data: await image(4) },
    { path: "dent/broken.jpg", data: Buffer.from("not a jpeg at all") },
    { path: "README.md", data: Buffer.from("notes") },
  ];
  return pack(files, "tar");
}

/** what an import made, independent of ids and times: by item, its image, group and label content hash */
const made = (samples: Sample[]) =>
  samples
    .map((s) => ({
      item: s.provenance.item,
      image: s.image,
      groupKey: s.groupKey,
      label: s.label?.sha256 ?? null,
      status: s.status,
    }))
    .sort((a, b) => String(a.item).localeCompare(String(b.item)));

/** the parts of an import result that do not name sample ids */
const outcome = (i: DatasetImport) => ({
  status: i.status,
  error: i.error,
  ok: i.result?.ok,
  failed: i.result?.failed,
  duplicates: i.result?.duplicates.map((d) => ({ item: d.item, sha256: d.sha256 })),
  ignored: i.result?.ignored,
  unlabeled: i.result?.unlabeled,
  addedClasses: i.result?.addedClasses,
});

/**
 * A hub that imports and exports nothing itself (training.remote.localImports and localExports
 * false): real `kensa worker` processes run the hub's import and export code and the hub commits
 * what they send; the outcome equals a hub that imports and exports locally.
 */
describe.each(list)("dataset imports and exports on `kensa worker` processes ($name)", (backend) => {
  let files: TempDir;
  let remote: TestHub;
  let local: TestHub;
  let token: string;
  let workerArgs: string[];
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    files = await tempDir("kensa-remote-datasets-");
    const made = newWorkerToken();
    token = made.token;
    remote = await startHub({
      database: backend.database(),
      training: {
        pollMs: 100,
        remote: {
          localImports: false,
          localExports: false,
          tokens: [{ name: "ds-workers", sha256: made.sha256 }],
          leaseMs: 2000,
        },
      },
    });
    local = await startHub({ database: backend.database() });
    workerArgs = ["--hub", remote.httpUrl, "--token", token, "--cuda", "no", "--jobs", "import,export"];
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) w.kill("SIGKILL");
    await remote?.close();
    await local?.close();
    await files?.remove();
  });

  const startWorker = (n: number, env: Record<string, string> = {}) => {
    const w = new WorkerProcess([...workerArgs, "--data-dir", join(files.path, `worker-${n}`)], env);
    workers.push(w);
    return w;
  };
  const getImport = async (id: string) => (await remote.call<DatasetImport>("GET", `/api/v1/imports/${id}`)).json;
  const ended = (id: string, w?: WorkerProcess) =>
    waitFor(
      `import ${id} ends`,
      async () => {
        const i = await getImport(id);
        return i.status !== "running" ? i : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the worker said:\n${w?.out}`);
    });
  const jobOf = async (type: string, refId: string) =>
    (await remote.call<{ items: Job[] }>("GET", `/api/v1/jobs?type=${type}&limit=100`)).json.items.find(
      (j) => j.refId === refId,
    )!;
  const both = async (slug: string) => ({
    r: await createProject(remote.call, slug, "classification", LABELS, ["ok"]),
    l: await createProject(local.call, slug, "classification", LABELS, ["ok"]),
  });

  it("an import on a worker equals a local import of the same archive; strict and bad archives fail alike", async () => {
    const archive = await mixedArchive();
    const p = await both("mixed");
    const query = { format: "imagefolder", groupKey: "dir" };
    const queued = await importArchive(remote.call, p.r, archive, { ...query, wait: false });
    expect(queued.status, JSON.stringify(queued.json)).toBe(202);
    // the hub imports nothing itself: without a worker it waits in the queue
    await new Promise((r) => setTimeout(r, 800));
    expect((await getImport(queued.json.id)).status).toBe("running");
    expect((await jobOf("import", queued.json.id)).status).toBe("queued");

    const w = startWorker(1);
    const done = await ended(queued.json.id, w);
    const here = await importArchive(local.call, p.l, archive, query);
    expect(here.json.status).toBe("succeeded");
    expect(outcome(done)).toEqual(outcome(here.json));
    expect(done.result).toMatchObject({ ok: 4, ignored: 1 });
    expect(done.result!.failed.map((f) => f.code)).toEqual(["KENSA_ERR_DATASET_IMAGE_INVALID"]);
    expect(done.progress).toEqual({ done: 6, total: 6 });
    expect(made(await allSamples(remote.call, p.r))).toEqual(made(await allSamples(local.call, p.l)));
    expect(w.out).toMatch(/import succeeded: 5 item\(s\) prepared, 1 failed/);
    // (its attempts are not asserted: a loaded machine may let a 2 s lease run out once, and the
    // import then commits on the next claim; exactly-once is the SIGKILL test's)
    expect((await jobOf("import", done.id)).status).toBe("succeeded");

    // the same archive again: every image is a duplicate of the first import's samples, on both hubs
    const again = await importArchive(remote.call, p.r, archive, query);
    const againHere = await importArchive(local.call, p.l, archive, query);
    expect(outcome(again.json)).toEqual(outcome(againHere.json));
    expect(again.json.result).toMatchObject({ ok: 0 });

    // strict: the bad item aborts it, nothing is committed, the failures are the result (as locally)
    const q = await both("strict");
    const strict = await importArchive(remote.call, q.r, archive, { ...query, strict: true });
    const strictHere = await importArchive(local.call, q.l, archive, { ...query, strict: true });
    expect(strict.json.error?.code).toBe("KENSA_ERR_DATASET_IMPORT_ABORTED");
    expect(outcome(strict.json)).toEqual(outcome(strictHere.json));
    expect(await allSamples(remote.call, q.r)).toEqual([]);

    // not an archive: the same coded failure
    const bad = await importArchive(remote.call, q.r, Buffer.from("this is not an archive, just text"), query);
    const badHere = await importArchive(local.call, q.l, Buffer.from("this is not an archive, just text"), query);
    expect(bad.json.error?.code).toBe("KENSA_ERR_ARCHIVE_INVALID");
    expect(outcome(bad.json)).toEqual(outcome(badHere.json));
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  }, 120_000);

  it("an export built by a worker is byte-identical to the streamed export", async () => {
    // the workers of the test before (left running if it failed) may not take these jobs
    for (const old of workers) old.kill("SIGKILL");
    const p = await both("exported");
    const w = startWorker(2);
    const imp = await importArchive(remote.call, p.r, await mixedArchive(), { format: "imagefolder" });
    expect(imp.json.status).toBe("succeeded");
    const snap = await remote.call<{ id: string }>("POST", `/api/v1/projects/${p.r}/snapshots`, {
      body: {},
    });
    expect(snap.status, JSON.stringify(snap.json)).toBe(201);
    for (const query of [
      { format: "coco", archive: "zip", snapshot: snap.json.id },
      { format: "imagefolder", archive: "tar", snapshot: snap.json.id, split: "train" },
      { format: "masks", archive: "zip" },
    ]) {
      const started = await remote.call<DatasetExport>("POST", `/api/v1/projects/${p.r}/exports`, { body: query });
      expect(started.status, JSON.stringify(started.json)).toBe(202);
      const early = await remote.call<{ error: { code: string } }>(
        "GET",
        `/api/v1/exports/${started.json.id}/download`,
      );
      if (early.status !== 200) expect(early.json.error.code).toBe("KENSA_ERR_EXPORT_NOT_READY");
      const exp = await waitFor(
        `export ${started.json.id}`,
        async () => {
          const e = (await remote.call<DatasetExport>("GET", `/api/v1/exports/${started.json.id}`)).json;
          return e.status === "succeeded" || e.status === "failed" ? e : undefined;
        },
        { timeoutMs: 40_000, intervalMs: 100 },
      );
      expect(exp.status, JSON.stringify(exp.error)).toBe("succeeded");
      const res = await fetch(`${remote.httpUrl}/api/v1/exports/${exp.id}/download`, {
        headers: { authorization: `Bearer ${remote.hub.adminToken}` },
      });
      expect(res.status).toBe(200);
      const built = Buffer.from(await res.arrayBuffer());
      const streamed = await exportArchive(remote, p.r, query as Record<string, string>);
      expect(sha(built)).toBe(sha(streamed));
      expect(exp.archive).toMatchObject({ sha256: sha(built), size: built.length });
      expect(res.headers.get("content-disposition")).toContain(exp.archive!.filename);
    }
    expect(w.out).toMatch(/export succeeded: \d+ bytes/);
    // `kensa dataset export --queue` queues, waits for the worker and downloads the same bytes
    const out = join(files.path, "cli.zip");
    const cli = await run(
      process.execPath,
      [
        ...["--import", "tsx", "apps/cli/src/main.ts", "dataset", "export", "--project", p.r, "--format", "coco"],
        ...["--snapshot", snap.json.id, "--out", out, "--queue", "--hub", remote.httpUrl],
        ...["--token", remote.hub.adminToken],
      ],
      { cwd: repoRoot, encoding: "utf8" },
    );
    expect(cli.stdout).toMatch(/export exp_\S+ queued/);
    const streamedZip = await exportArchive(remote, p.r, { format: "coco", archive: "zip", snapshot: snap.json.id });
    expect(sha(await readFile(out))).toBe(sha(streamedZip));
    // a hub with local exports builds a queued export itself: the same bytes as its streamed export
    const l = await importArchive(local.call, p.l, await mixedArchive(), { format: "imagefolder" });
    expect(l.json.status).toBe("succeeded");
    const mine = await local.call<DatasetExport>("POST", `/api/v1/projects/${p.l}/exports`, {
      body: { format: "yolo", archive: "tar" },
    });
    expect(mine.status, JSON.stringify(mine.json)).toBe(202);
    const builtHere = await waitFor(
      "the local export",
      async () => {
        const e = (await local.call<DatasetExport>("GET", `/api/v1/exports/${mine.json.id}`)).json;
        return e.status === "succeeded" || e.status === "failed" ? e : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(builtHere.status, JSON.stringify(builtHere.error)).toBe("succeeded");
    const streamedHere = await exportArchive(local, p.l, { format: "yolo", archive: "tar" });
    expect(builtHere.archive?.sha256).toBe(sha(streamedHere));
    // a snapshot of another project is refused when the export is asked for, not later
    const other = await both("other");
    const wrong = await remote.call<{ error: { code: string } }>("POST", `/api/v1/projects/${other.r}/exports`, {
      body: { format: "coco", snapshot: snap.json.id },
    });
    expect(wrong.json.error.code).toBe("KENSA_ERR_SNAPSHOT_NOT_FOUND");
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  }, 120_000);

  it("a SIGKILLed worker's import is claimed again and commits exactly once; a late result is refused", async () => {
    for (const w of workers) w.kill("SIGKILL");
    const files: FixtureFile[] = [];
    for (let i = 0; i < 240; i++) {
      files.push({ path: `${LABELS[i % 3]}/img_${i}.png`, data: await image(1000 + i, "png", 96, 80) });
    }
    const archive = pack(files, "zip");
    const p = await both("killed");
    const queued = await importArchive(remote.call, p.r, archive, { format: "imagefolder", wait: false });
    // one item at a time, so the worker is still at it when it is killed
    const first = startWorker(3, { KENSA_IMPORT_CONCURRENCY: "1" });
    await waitFor(
      "the worker to report progress",
      async () => ((await getImport(queued.json.id)).progress.done > 0 ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 50 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the worker said:\n${first.out}`);
    });
    first.kill("SIGKILL");
    await first.exited;
    expect((await getImport(queued.json.id)).status).toBe("running");
    const second = startWorker(4);
    const done = await ended(queued.json.id, second);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(done.result).toMatchObject({ ok: 240, failed: [], duplicates: [] });
    const samples = await allSamples(remote.call, p.r);
    expect(samples).toHaveLength(240);
    expect(new Set(samples.map((s) => s.image!.sha256)).size).toBe(240);
    const job = await jobOf("import", done.id);
    expect([job.status, job.attempts]).toEqual(["succeeded", 2]);
    second.kill("SIGTERM");
    expect(await second.exited).toBe(0);

    // by hand: the job's blob route serves the archive only, an upload must hash to its name,
    // and a result posted after the lease ran out is refused and commits nothing
    const asWorker = <T>(method: string, path: string, body?: unknown, raw?: Buffer) =>
      remote.call<T>(method, `/api/v1/workers${path}`, {
        auth: `Bearer ${token}`,
        ...(raw ? { raw, headers: { "content-type": "application/octet-stream" } } : {}),
        ...(body ? { body } : {}),
      });
    const small = pack([{ path: "ok/x.jpg", data: await image(77) }], "tar");
    const h = await importArchive(remote.call, p.r, small, { format: "imagefolder", wait: false });
    const claimAs = (workerId: string) =>
      waitFor(
        `${workerId} claims the import`,
        async () =>
          (await asWorker<WorkerClaimReply>("POST", "/claim", { workerId, capabilities: CAPS })).json.import ?? null,
        { timeoutMs: 20_000, intervalMs: 200 },
      );
    const one = await claimAs("by-hand");
    expect(one).toMatchObject({ importId: h.json.id, attempt: 1, project: { slug: "killed" } });
    const q = "?workerId=by-hand&attempt=1";
    const got = await asWorker<unknown>("GET", `/jobs/${one.jobId}/blobs/${one.archive.sha256}${q}`);
    expect(got.status).toBe(200);
    const foreign = samples[0]!.image!.sha256;
    const refused = await asWorker<{ error: { code: string } }>("GET", `/jobs/${one.jobId}/blobs/${foreign}${q}`);
    expect(refused.json.error.code).toBe("KENSA_ERR_BLOB_NOT_FOUND");
    const img = await image(77);
    const lie = await asWorker<{ error: { code: string } }>(
      "PUT",
      `/jobs/${one.jobId}/uploads/${"0".repeat(64)}${q}`,
      undefined,
      img,
    );
    expect(lie.json.error.code).toBe("KENSA_ERR_BLOB_DIGEST_MISMATCH");
    const up = await asWorker<{ sha256: string }>("PUT", `/jobs/${one.jobId}/uploads/${sha(img)}${q}`, undefined, img);
    expect(up.json.sha256).toBe(sha(img));
    const two = await claimAs("by-hand-2");
    expect(two).toMatchObject({ jobId: one.jobId, attempt: 2 });
    const item = { item: "ok/x.jpg", sha256: sha(img), format: "jpeg", width: 48, height: 40, groupKey: null };
    const rows = { items: [{ ...item, newClasses: [], content: { classes: ["ok"], objects: [], anomaly: null } }] };
    const prepared = { ...rows, failed: [], ignored: 0, total: 1 };
    const late = await asWorker<{ error: { code: string } }>("POST", `/jobs/${one.jobId}/import`, {
      workerId: "by-hand",
      attempt: 1,
      prepared,
      error: null,
    });
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe("KENSA_ERR_WORKER_LEASE_LOST");
    // a class the project lacks, from the holder: refused
    const unknown = {
      ...prepared,
      items: [{ ...prepared.items[0]!, content: { classes: ["rust"], objects: [], anomaly: null } }],
    };
    const odd = await asWorker<{ error: { code: string } }>("POST", `/jobs/${one.jobId}/import`, {
      workerId: "by-hand-2",
      attempt: 2,
      prepared: unknown,
      error: null,
    });
    expect(odd.json.error.code).toBe("KENSA_ERR_VALIDATION");
    const ok = await asWorker<{ status: string; duplicate: boolean }>("POST", `/jobs/${one.jobId}/import`, {
      workerId: "by-hand-2",
      attempt: 2,
      prepared,
      error: null,
    });
    expect(ok.json).toMatchObject({ status: "succeeded", duplicate: false });
    // posted again (its answer lost): answered as stored, nothing committed twice
    const repeat = await asWorker<{ status: string; duplicate: boolean }>("POST", `/jobs/${one.jobId}/import`, {
      workerId: "by-hand-2",
      attempt: 2,
      prepared,
      error: null,
    });
    expect(repeat.json).toMatchObject({ status: "succeeded", duplicate: true });
    expect(await allSamples(remote.call, p.r)).toHaveLength(241);
    expect((await getImport(h.json.id)).result).toMatchObject({ ok: 1 });
  }, 180_000);
});
