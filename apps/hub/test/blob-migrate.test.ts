import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BlobStore } from "../src/blobstore/blob-store.js";
import { FsBlobStore } from "../src/blobstore/fs/fs-blob-store.js";
import { parseHubConfig } from "../src/config.js";
import { migrateBlobs } from "../src/system/blob-migrate.js";
import { migrateBlobsOffline, readBlobsConfig } from "../src/system/blob-migrate-offline.js";
import { overwriteObject, S3_CREDENTIALS, type S3Server, s3Store, startS3Server } from "./s3-fixture.js";

const run = promisify(execFile);
const BUCKET = "kensa-migrate";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}

async function contents(store: BlobStore): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const b of store.list()) out.set(b.sha256, b.size);
  return out;
}

/** a hub's `blobs.s3` section for the test server */
function s3Section(server: S3Server, prefix: string) {
  return {
    kind: "s3" as const,
    s3: {
      endpoint: server.endpoint,
      bucket: BUCKET,
      prefix,
      forcePathStyle: true,
      accessKeyId: S3_CREDENTIALS.accessKeyId,
      partSizeBytes: 5 * 1024 * 1024,
      maxAttempts: 1,
      timeoutMs: 5_000,
    },
  };
}

describe("blob migration", () => {
  let server: S3Server;
  let dir: { path: string; remove(): Promise<void> };
  beforeAll(async () => {
    server = await startS3Server([BUCKET]);
    dir = await tempDir("kensa-migrate-");
  });
  afterAll(async () => {
    await server.remove();
    await dir.remove();
  });

  it("copies fs → s3 and back s3 → fs, every hash verified, resuming where it stopped", async () => {
    const fs = new FsBlobStore(join(dir.path, "a", "blobs"));
    const blobs = [pattern(7 * 1024 * 1024, 1), ...Array.from({ length: 9 }, (_, i) => pattern(1_000 + i, 10 + i))];
    for (const b of blobs) await fs.put(b);
    const s3 = s3Store(server, BUCKET, "hub-a/", join(dir.path, "spool"));
    const state = join(dir.path, "a", "blob-migrate.json");
    const opts = { from: "fs:a", to: "s3:a", stateFile: state, parallel: 3 };

    // the first run is cut short: the target fails after the first batches
    let puts = 0;
    const failing = new Proxy(s3, {
      get(target, prop) {
        if (prop === "put") {
          return (c: Parameters<BlobStore["put"]>[0], o: Parameters<BlobStore["put"]>[1]) => {
            if (++puts > 4) throw new Error("uplink down");
            return target.put(c, o);
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const cut = await migrateBlobs(fs, failing, opts);
    expect(cut.failed.length).toBeGreaterThan(0);
    expect(cut.failed.every((f) => f.reason === "target-refused")).toBe(true);
    const saved = JSON.parse(await readFile(state, "utf8")) as { after: string; complete: boolean };
    expect(saved.complete).toBe(false);

    const resumed = await migrateBlobs(fs, s3, opts);
    expect(resumed.resumedAfter).toBe(saved.after);
    expect(resumed.failed).toEqual([]);
    expect(resumed.listed).toBeLessThan(blobs.length);
    expect(resumed.copied + resumed.present).toBe(resumed.listed);
    expect(await contents(s3)).toEqual(await contents(fs));
    for (const b of blobs) expect(Buffer.from((await s3.get(sha(b)))!).equals(b)).toBe(true);

    // a complete run starts over next time: everything is found present (hashed in the target)
    const again = await migrateBlobs(fs, s3, opts);
    expect(again).toMatchObject({ resumedAfter: null, listed: blobs.length, copied: 0, present: blobs.length });
    expect(again.bytesPresent).toBe(blobs.reduce((n, b) => n + b.byteLength, 0));

    // and back into an empty folder
    const back = new FsBlobStore(join(dir.path, "back", "blobs"));
    const r = await migrateBlobs(s3, back, { from: "s3:a", to: "fs:back", stateFile: null });
    expect(r).toMatchObject({ listed: blobs.length, copied: blobs.length, present: 0, failed: [] });
    expect(r.bytesCopied).toBe(blobs.reduce((n, b) => n + b.byteLength, 0));
    expect(await contents(back)).toEqual(await contents(fs));
  });

  it("reports a blob corrupt at the source, repairs one corrupt in the target, copies the rest", async () => {
    const s3 = s3Store(server, BUCKET, "hub-b/", join(dir.path, "spool"));
    const good = [pattern(2_000, 1), pattern(6 * 1024 * 1024, 2)];
    const bad = pattern(3_000, 3);
    const bigBad = pattern(5 * 1024 * 1024 + 3, 4);
    for (const b of [...good, bad, bigBad]) await s3.put(b);
    await overwriteObject(server, BUCKET, s3.key(sha(bad)), pattern(3_000, 9));
    await overwriteObject(server, BUCKET, s3.key(sha(bigBad)), pattern(5 * 1024 * 1024 + 3, 9));
    const fs = new FsBlobStore(join(dir.path, "b", "blobs"));
    // the target holds one of them already, rotten
    await fs.put(good[0]!);
    await writeFile(`${fs.path(sha(good[0]!))}.x`, "rot");
    await rename(`${fs.path(sha(good[0]!))}.x`, fs.path(sha(good[0]!)));

    const r = await migrateBlobs(s3, fs, { from: "s3:b", to: "fs:b", stateFile: null });
    expect(r.copied).toBe(2);
    expect(r.repaired).toBe(1);
    expect(r.failed.map((f) => [f.sha256, f.reason, f.code]).sort()).toEqual(
      [
        [sha(bad), "corrupt-at-source", "KENSA_ERR_BLOB_CORRUPT"],
        [sha(bigBad), "corrupt-at-source", "KENSA_ERR_BLOB_CORRUPT"],
      ].sort(),
    );
    expect(await fs.has(sha(bad))).toBe(false);
    expect(await fs.has(sha(bigBad))).toBe(false);
    for (const b of good) expect(await fs.verify(sha(b))).toBe("ok");
    // the source quarantined what it found corrupt, as any read of it would
    const q = [];
    for await (const x of s3.quarantined()) q.push(x.sha256);
    expect(q.sort()).toEqual([sha(bad), sha(bigBad)].sort());
  });

  it("reads a target section from a hub config or alone, naming the key at fault", async () => {
    const file = join(dir.path, "section.json");
    await writeFile(file, JSON.stringify(s3Section(server, "x/")));
    expect((await readBlobsConfig(file)).s3).toMatchObject({ bucket: BUCKET, prefix: "x/", checksum: "sha256" });
    await writeFile(file, JSON.stringify({ dataDir: "/elsewhere", blobs: { kind: "fs", dir: "/srv/blobs" } }));
    expect(await readBlobsConfig(file)).toEqual({ kind: "fs", dir: "/srv/blobs" });
    await writeFile(file, JSON.stringify({ kind: "s3", s3: { endpoint: server.endpoint } }));
    await expect(readBlobsConfig(file)).rejects.toMatchObject({
      code: "KENSA_ERR_CONFIG_INVALID",
      message: expect.stringContaining("/s3/bucket"),
    });
    await writeFile(file, JSON.stringify({ kind: "s3" }));
    await expect(readBlobsConfig(file)).rejects.toMatchObject({ message: expect.stringContaining("/blobs/s3") });
  });

  it("refuses a target that is the source", async () => {
    const config = parseHubConfig({ dataDir: join(dir.path, "c") });
    await expect(migrateBlobsOffline(config, { to: { kind: "fs" } })).rejects.toMatchObject({
      code: "KENSA_ERR_CONFIG_INVALID",
    });
  });

  it("runs as `kensa hub blobs migrate --to`, printing counts and bytes", async () => {
    const dataDir = join(dir.path, "cli");
    const fs = new FsBlobStore(join(dataDir, "blobs"));
    const blobs = [pattern(4_000, 21), pattern(5_000, 22)];
    for (const b of blobs) await fs.put(b);
    const target = join(dir.path, "cli-target.json");
    await writeFile(target, JSON.stringify({ blobs: s3Section(server, "cli/") }));
    const env = { ...process.env, KENSA_S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey };
    const kensa = (...args: string[]) =>
      run(process.execPath, ["--import", "tsx", "apps/cli/src/main.ts", ...args], { cwd: repoRoot, env });
    const { stdout } = await kensa("hub", "blobs", "migrate", "--data-dir", dataDir, "--to", target);
    expect(stdout).toContain(`fs:${join(dataDir, "blobs")} → s3:${server.endpoint}/${BUCKET}/cli/`);
    expect(stdout).toMatch(/looked at\s+2\s/);
    expect(stdout).toMatch(/copied and verified\s+2\s+0\.0 MiB/);
    expect(stdout).toMatch(/not copied\s+0\s/);
    const s3 = s3Store(server, BUCKET, "cli/", join(dir.path, "spool"));
    for (const b of blobs) expect(await s3.verify(sha(b))).toBe("ok");
    expect(JSON.parse(await readFile(join(dataDir, "blob-migrate.json"), "utf8"))).toMatchObject({ complete: true });
  }, 60_000);
});
