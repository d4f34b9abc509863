import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Logger } from "../src/logger.js";
import { BundleFetcher } from "../src/updates/bundle-fetcher.js";
import { BundleStore } from "../src/updates/bundle-store.js";
import { startHubHttp, type TestHub } from "./helpers/hub-http.js";

const log = new Logger("error");

/** The agent's side of a spread rollout start, and partial model files kept for a resume. */
describe("bundle fetches: spread start, partial files", () => {
  let hub: TestHub;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    hub = await startHubHttp("cam-1", "s3cret");
    dir = await tempDir();
  });
  afterAll(async () => {
    await hub.stop();
    await dir.remove();
  });

  /** a fetcher whose requests are timed (ms since `t0`) */
  function fetcher(name: string, random: () => number, starts: number[], t0: number) {
    // one data dir per simulated device: its bundles and its partial downloads
    const store = new BundleStore(join(dir.path, name, "bundles"));
    const timed: typeof fetch = (input, init) => {
      starts.push(Date.now() - t0);
      return fetch(input, init);
    };
    return {
      store,
      fetcher: new BundleFetcher({
        deviceId: "cam-1",
        secret: "s3cret",
        hubUrl: hub.url,
        store,
        fetch: timed,
        random,
        downloadRetryBaseMs: 5,
      }),
    };
  }

  it("waits a random moment within the hub's window before downloading, and not for a stored bundle", async () => {
    const b = hub.addBundle("mv-spread");
    const ref = { ...b.ref, spreadMs: 600 };
    const starts: number[] = [];
    const t0 = Date.now();
    // three devices drawing the start, the middle and the end of the window
    const runs = [0, 0.5, 0.99].map((r, i) => fetcher(`spread-${i}`, () => r, starts, t0));
    const got = await Promise.all(runs.map((r) => r.fetcher.fetch(ref, new AbortController().signal, log)));
    for (const g of got) expect(g.downloaded).toBe(true);
    // each device made two requests (manifest, model) after its own wait
    const firstOf = starts.filter((_, i) => i % 2 === 0).sort((a, b) => a - b);
    expect(starts).toHaveLength(6);
    expect(firstOf[0]!).toBeLessThan(250);
    expect(Math.max(...starts)).toBeGreaterThanOrEqual(590);

    // a bundle already stored (a rollback) is used at once, whatever the window
    const again: number[] = [];
    const t1 = Date.now();
    const stored = fetcher("spread-0", () => 0.99, again, t1);
    const r = await stored.fetcher.fetch({ ...b.ref, spreadMs: 60_000 }, new AbortController().signal, log);
    expect(r.downloaded).toBe(false);
    expect(again).toEqual([]);
    expect(Date.now() - t1).toBeLessThan(5_000);
  });

  it("an aborted wait ends at once (the agent is stopping)", async () => {
    const b = hub.addBundle("mv-abort");
    const ac = new AbortController();
    const { fetcher: f } = fetcher("abort", () => 0.9, [], Date.now());
    const t = Date.now();
    const p = f.fetch({ ...b.ref, spreadMs: 60_000 }, ac.signal, log);
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toThrow();
    expect(Date.now() - t).toBeLessThan(5_000);
  });

  it("restarts a partial model file the server cannot resume, and drops partials of models no longer wanted", async () => {
    const b = hub.addBundle("mv-partial");
    const { store, fetcher: f } = fetcher("partial", () => 0, [], Date.now());
    const partialDir = join(dir.path, "partial", "downloads");
    await store.reap();
    // leftovers: a stale partial of another model, and a wrong prefix of this one with a matching ETag
    const { mkdir } = await import("node:fs/promises");
    await mkdir(partialDir, { recursive: true });
    await writeFile(join(partialDir, `${"a".repeat(64)}.part`), "old");
    await writeFile(join(partialDir, `${b.ref.modelSha256}.part`), Buffer.alloc(100, 7));
    await writeFile(join(partialDir, `${b.ref.modelSha256}.part.etag`), '"whatever"');
    // the stand-in hub sends no ETag and ignores Range: the download starts afresh and verifies
    const got = await f.fetch(b.ref, new AbortController().signal, log);
    expect(got.downloaded).toBe(true);
    expect(await readdir(partialDir)).toEqual([]);
  });
});
