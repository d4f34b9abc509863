import { join } from "node:path";
import type { DatasetImport, Job } from "@kensa/contracts";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newWorkerToken } from "../src/jobs/worker-tokens.js";
import { allSamples, createProject, type FixtureFile, image, importArchive, pack } from "./datasets-fixtures.js";
import { backends, startHub, type TestHub } from "./helpers.js";
import { WorkerProcess } from "./remote-worker-fixtures.js";

const LABELS = ["ok", "scratch"];
/** pixels a hub of this file decodes: a 48 × 40 image passes, a 96 × 80 one does not */
const PIXELS = 4000;

const list = await backends("remote-import-hub");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

/**
 * What an import on `kensa worker` takes from the hub it serves: the hub's own limits (an item
 * over limits.imagePixels fails on the worker as it fails locally, whatever the worker's default),
 * and a queue that outlives the hub (an import queued before a restart commits once after it).
 */
describe.each(list)("imports on `kensa worker` follow their hub ($name)", (backend) => {
  let files: TempDir;
  const workers: WorkerProcess[] = [];
  const hubs: TestHub[] = [];
  const made = newWorkerToken();
  const remoteConfig = (database: ReturnType<typeof backend.database>) => ({
    database,
    limits: { imagePixels: PIXELS },
    training: {
      pollMs: 100,
      remote: { localImports: false, tokens: [{ name: "imports", sha256: made.sha256 }], leaseMs: 10_000 },
    },
  });

  beforeAll(async () => {
    files = await tempDir("kensa-remote-import-hub-");
  });

  afterAll(async () => {
    for (const w of workers) w.kill("SIGKILL");
    for (const h of hubs) await h.close();
    await files?.remove();
  });

  const startWorker = (hub: TestHub, n: number) => {
    const w = new WorkerProcess([
      ...["--hub", hub.httpUrl, "--token", made.token, "--cuda", "no", "--jobs", "import"],
      ...["--data-dir", join(files.path, `worker-${n}`)],
    ]);
    workers.push(w);
    return w;
  };
  const ended = (hub: TestHub, id: string, w: WorkerProcess) =>
    waitFor(
      `import ${id} ends`,
      async () => {
        const i = (await hub.call<DatasetImport>("GET", `/api/v1/imports/${id}`)).json;
        return i.status !== "running" ? i : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the worker said:\n${w.out}`);
    });
  const jobOf = async (hub: TestHub, refId: string) =>
    (await hub.call<{ items: Job[] }>("GET", "/api/v1/jobs?type=import&limit=100")).json.items.find(
      (j) => j.refId === refId,
    )!;

  it("an image over the hub's limits.imagePixels fails on the worker with the code it fails with locally", async () => {
    const remote = await startHub(remoteConfig(backend.database()));
    hubs.push(remote);
    const local = await startHub({ database: backend.database(), limits: { imagePixels: PIXELS } });
    hubs.push(local);
    const archive = pack(
      [
        { path: "ok/small.png", data: await image(1, "png") },
        { path: "scratch/large.png", data: await image(2, "png", 96, 80) },
        { path: "scratch/fine.jpg", data: await image(3) },
      ],
      "tar",
    );
    const r = await createProject(remote.call, "limited", "classification", LABELS, ["ok"]);
    const l = await createProject(local.call, "limited", "classification", LABELS, ["ok"]);
    const w = startWorker(remote, 1);
    const queued = await importArchive(remote.call, r, archive, { format: "imagefolder", wait: false });
    expect(queued.status, JSON.stringify(queued.json)).toBe(202);
    const done = await ended(remote, queued.json.id, w);
    const here = await importArchive(local.call, l, archive, { format: "imagefolder" });
    const failures = (i: DatasetImport) => i.result?.failed.map((f) => ({ item: f.item, code: f.code }));
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(failures(done)).toEqual([{ item: "scratch/large.png", code: "KENSA_ERR_IMAGE_TOO_LARGE" }]);
    expect(failures(done)).toEqual(failures(here.json));
    expect(done.result!.failed[0]!.message).toBe(here.json.result!.failed[0]!.message);
    expect(done.result).toMatchObject({ ok: 2 });
    expect((await allSamples(remote.call, r)).map((s) => s.provenance.item).sort()).toEqual([
      "ok/small.png",
      "scratch/fine.jpg",
    ]);
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  }, 120_000);

  it("an import queued before the hub restarts is claimed after it and commits once", async () => {
    const dir = await tempDir("kensa-remote-import-restart-");
    const database = backend.database("restart");
    const first = await startHub(remoteConfig(database), { dir });
    const items: FixtureFile[] = [];
    for (let i = 0; i < 12; i++) items.push({ path: `${LABELS[i % 2]}/img_${i}.jpg`, data: await image(500 + i) });
    const p = await createProject(first.call, "restarted", "classification", LABELS, ["ok"]);
    // no worker runs: the import waits in the queue while the hub stops
    const queued = await importArchive(first.call, p, pack(items, "zip"), { format: "imagefolder", wait: false });
    expect(queued.status, JSON.stringify(queued.json)).toBe(202);
    expect((await jobOf(first, queued.json.id)).status).toBe("queued");
    await first.close();

    const second = await startHub(remoteConfig(database), { dir });
    hubs.push(second);
    // the reopened hub kept it queued (not failed as an interrupted local import would be)
    expect((await second.call<DatasetImport>("GET", `/api/v1/imports/${queued.json.id}`)).json.status).toBe("running");
    expect((await jobOf(second, queued.json.id)).status).toBe("queued");
    const w = startWorker(second, 2);
    const done = await ended(second, queued.json.id, w);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(done.result).toMatchObject({ ok: 12, failed: [], duplicates: [] });
    const samples = await allSamples(second.call, p);
    expect(samples).toHaveLength(12);
    expect(new Set(samples.map((s) => s.image!.sha256)).size).toBe(12);
    expect(await jobOf(second, queued.json.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    w.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    await second.close();
    hubs.pop();
    await dir.remove();
  }, 120_000);
});
