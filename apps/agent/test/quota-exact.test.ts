import { randomBytes } from "node:crypto";
import { lstatSync, readdirSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { isKensaError } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CaptureQueue } from "../src/capture/capture-queue.js";
import { ClipStore } from "../src/clips/clip-store.js";
import { Logger } from "../src/logger.js";
import { type AgentDatabase, Counter, openAgentDb } from "../src/storage/agent-db.js";
import { MediaQueue } from "../src/storage/media-queue.js";
import { type EventDraft, Outbox } from "../src/storage/outbox.js";
import { QuotaKeeper } from "../src/storage/quota-keeper.js";

const quiet = new Logger("error", {}, () => undefined);

/** What the media store takes on disk now, as `du` counts it: the blocks of every file in the three spool dirs. */
function onDisk(dirs: string[]): { blocks: number; apparent: number } {
  let blocks = 0;
  let apparent = 0;
  for (const d of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        const s = lstatSync(join(d, n));
        blocks += s.blocks * 512;
        apparent += s.size;
      } catch {
        // evicted between the listing and the look
      }
    }
  }
  return { blocks, apparent };
}

const draft = (i: number): EventDraft => ({
  deviceId: "cam-1",
  pipeline: "default",
  sourceId: "line",
  ts: new Date(1_700_000_000_000 + i).toISOString(),
  bundle: { sha256: "a".repeat(64), modelVersionId: "m1" },
  frame: { width: 320, height: 240, meta: { i } },
  result: { task: "classification", label: "defect", score: 0.9, scores: {}, finding: true },
  latencyMs: { preprocess: 1, inference: 2, total: 3 },
});

/** a JPEG-sized payload of 1–60 kB, sizes off the block boundary like real frames */
const frame = () => randomBytes(1000 + Math.floor(Math.random() * 59_000));

describe("the media quota is exact: a write reserves its blocks before it lands", () => {
  let dir: TempDir;
  let db: AgentDatabase;
  beforeEach(async () => {
    dir = await tempDir();
    db = openAgentDb(dir.path);
  });
  afterEach(async () => {
    db.close();
    await dir.remove();
  });

  it("never holds more than media.quotaBytes on disk while frames, captures and clips pour in", async () => {
    const dirs = ["media", "captures", "clips"].map((d) => join(dir.path, d));
    const media = new MediaQueue(db, dirs[0]!);
    const outbox = new Outbox(db, media);
    const captures = new CaptureQueue(db, dirs[1]!);
    const clips = new ClipStore(db, dirs[2]!);
    for (const s of [media, captures, clips]) await s.reap();
    const quotaBytes = 400 * 1024;
    const quota = new QuotaKeeper({
      db,
      dataDir: dir.path,
      spools: { media, captures, clips },
      bundlesDir: join(dir.path, "bundles"),
      outbox,
      eventsDropped: new Counter(db, "events_dropped"),
      mediaEvicted: new Counter(db, "media_evicted"),
      logger: quiet,
      mediaQuotaBytes: quotaBytes,
      offlineQuotaBytes: 1e15,
      minFreeBytes: 0,
      intervalMs: 20,
    });
    quota.start();

    // measured continuously while the writers run, and after every write
    let worst = 0;
    let worstApparent = 0;
    let samples = 0;
    let writing = true;
    const measure = () => {
      const u = onDisk(dirs);
      worst = Math.max(worst, u.blocks);
      worstApparent = Math.max(worstApparent, u.apparent);
      samples++;
    };
    const sampler = (async () => {
      while (writing) {
        measure();
        await new Promise((r) => setImmediate(r));
      }
    })();

    let events = 0;
    let refused = 0;
    const refusedOk = (err: unknown) => {
      // a capture or clip may find the store full of dearer media (frames waiting for upload): refused, nothing written
      if (!isKensaError(err) || err.code !== "KENSA_ERR_MEDIA_QUOTA_FULL") throw err;
      refused++;
    };
    const frames = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await outbox.append(draft(events++), frame());
        measure();
        // the hub took some: uploaded copies stay as the ring buffer, the cheapest to evict
        if (i % 3 === 0) for (const row of media.due(Date.now(), 1)) await media.done(row, "uploaded");
      }
    };
    const learn = async (n: number, w: number) => {
      for (let i = 0; i < n; i++) {
        await captures.enqueue(`cap-${w}-${i}-xxxx`, "line", frame(), { reason: "random", ts: "t" }).catch(refusedOk);
        measure();
      }
    };
    const encode = async (n: number) => {
      for (let i = 0; i < n; i++) {
        // an encoder writing its output in pieces, its final size unknown until it is done
        const write = async (path: string) => {
          const fh = await open(path, "w");
          try {
            for (let k = 0, parts = 2 + Math.floor(Math.random() * 6); k < parts; k++) {
              await fh.write(randomBytes(3000 + Math.floor(Math.random() * 9000)));
              await new Promise((r) => setTimeout(r, 1));
            }
          } finally {
            await fh.close();
          }
        };
        await clips
          .save(`clip-${i}.mp4`, { eventId: `e-${i}`, sourceId: "line", frames: 10, durationMs: 1000 }, write)
          .catch(refusedOk);
        measure();
      }
    };
    await Promise.all([frames(120), frames(120), learn(80, 1), learn(80, 2), encode(40)]);
    writing = false;
    await sampler;
    await quota.stop();
    measure();

    // every byte measured, at every point, within the quota — blocks as `du` counts them
    expect(samples).toBeGreaterThan(300);
    expect(worst).toBeLessThanOrEqual(quotaBytes);
    expect(worstApparent).toBeLessThanOrEqual(quotaBytes);
    // and the store was really under pressure: written far past the quota and filled close to it
    expect(new Counter(db, "media_evicted").value).toBeGreaterThan(50);
    expect(worst).toBeGreaterThan(quotaBytes * 0.8);
    // the accounting matches the disk once the writers are done
    expect(quota.budget.used()).toBe(onDisk(dirs).blocks);
    // no event was lost to the media quota
    expect(outbox.depth()).toBe(events);
    console.log(`media quota ${quotaBytes} B: worst ${worst} B on disk over ${samples} samples; ${refused} refused`);
  });
});
