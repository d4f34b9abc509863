import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tempDir } from "@kensa/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AgentDatabase, openAgentDb } from "../../src/storage/agent-db.js";
import type { DurableSpool } from "../../src/storage/durable-spool.js";
import type { UploadOutcome, UploadRow } from "../../src/storage/upload-queue.js";

/** What the suite drives: the spool's public surface, whatever its item type. */
export type SpoolUnderTest<R extends UploadRow> = Pick<
  DurableSpool<never, R>,
  | "dir"
  | "due"
  | "nextDueAt"
  | "done"
  | "defer"
  | "retry"
  | "retryNow"
  | "depth"
  | "bytes"
  | "oldest"
  | "evict"
  | "reap"
>;

/** One spool opened on a real database and directory. */
export interface SpoolHarness<R extends UploadRow> {
  spool: SpoolUnderTest<R>;
  /** Stores item number `n` with these bytes the way the agent does (its own put path). */
  put(n: number, data: Uint8Array): Promise<{ key: string; file: string }>;
  /** Lets a stored item be offered: spools that hold items back (media, clips) wait until their event left the outbox. */
  release?(key: string): void;
  /** Puts item `n` through a write that fails half-way (an encoder dying), for spools written by a writer. */
  putFailing?(n: number): Promise<unknown>;
}

export interface SpoolFactory<R extends UploadRow> {
  /** Opens the spool on `db` with its files under `dataDir`; opening again on the same dir finds what is there. */
  open(db: AgentDatabase, dataDir: string): SpoolHarness<R>;
  /** Whether a row done with this outcome keeps its file on disk (as a ring buffer for the quota to evict). */
  keeps: Record<UploadOutcome, boolean>;
  /** the spool holds items back until released: its harness has `release` */
  holdsBack?: boolean;
  /** the spool is written by a writer that may fail: its harness has `putFailing` */
  writtenByWriter?: boolean;
}

const bytesOf = (n: number, size = 1000): Uint8Array => {
  // a JPEG's first bytes, so spools that name files by image type name it .jpg
  const b = new Uint8Array(size).fill(n % 251);
  b.set([0xff, 0xd8, 0xff, 0xe0]);
  return b;
};

/**
 * The behaviour every durable spool (a file on disk plus a row in SQLite) shares, registered as
 * describe/it blocks for one spool factory, so a new spool is a few lines of test plus passing
 * these. Real SQLite, real directories: a "crash" is a database closed and opened again from
 * the same data dir, with the leftovers a crash leaves written by hand.
 */
export function spoolConformance<R extends UploadRow>(name: string, factory: SpoolFactory<R>): void {
  describe(`${name}: durable spool conformance`, () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let db: AgentDatabase;
    let h: SpoolHarness<R>;

    /** Puts items and lets them be offered; returns their keys and files in put order. */
    const putReady = async (...ns: number[]) => {
      const out = [];
      for (const n of ns) {
        const item = await h.put(n, bytesOf(n));
        h.release?.(item.key);
        out.push(item);
      }
      return out;
    };
    const reopen = async () => {
      db.close();
      db = openAgentDb(dir.path);
      h = factory.open(db, dir.path);
      return h.spool.reap();
    };
    const dueKeys = (now = Date.now()) => h.spool.due(now, 100).map((r) => r.key);

    beforeEach(async () => {
      dir = await tempDir();
      db = openAgentDb(dir.path);
      h = factory.open(db, dir.path);
      await h.spool.reap();
    });
    afterEach(async () => {
      db.close();
      await dir.remove();
    });

    it("offers items oldest first, each with its file and bytes", async () => {
      const items = await putReady(1, 2, 3);
      expect(h.spool.depth()).toBe(3);
      expect(dueKeys()).toEqual(items.map((i) => i.key));
      expect(h.spool.due(Date.now(), 2).map((r) => r.key)).toEqual(items.slice(0, 2).map((i) => i.key));
      for (const [i, row] of h.spool.due(Date.now(), 10).entries()) {
        expect(row).toMatchObject({ key: items[i]?.key, file: items[i]?.file, attempts: 0 });
        expect(readFileSync(`${h.spool.dir}/${row.file}`)).toEqual(Buffer.from(bytesOf(i + 1)));
      }
      expect(h.spool.bytes()).toBe(3000);
    });

    it("keeps items, their order and their attempts across a reopen of the database", async () => {
      const items = await putReady(1, 2, 3);
      const [first] = h.spool.due(Date.now(), 1);
      const later = Date.now() + 60_000;
      h.spool.defer(first as R, 2, later);
      expect(await reopen()).toEqual({ files: 0, rows: 0 });
      expect(h.spool.depth()).toBe(3);
      expect(dueKeys()).toEqual(items.slice(1).map((i) => i.key));
      expect(h.spool.due(later, 10)).toMatchObject([{ key: items[0]?.key, attempts: 2 }, {}, {}]);
      expect(readdirSync(h.spool.dir).sort()).toEqual(items.map((i) => i.file).sort());
    });

    it("reaps what a crash leaves: a temp file, a file without a row, a row without a file", async () => {
      const [kept, lost] = await putReady(1, 2);
      // a put that died before its rename, one that died before its row, a file lost after its row
      writeFileSync(`${h.spool.dir}/${kept?.file}.4242.abc.tmp`, bytesOf(9).subarray(0, 10));
      writeFileSync(`${h.spool.dir}/orphan-${kept?.file}`, bytesOf(9));
      rmSync(`${h.spool.dir}/${lost?.file}`);
      expect(await reopen()).toEqual({ files: 2, rows: 1 });
      expect(readdirSync(h.spool.dir)).toEqual([kept?.file]);
      expect(h.spool.depth()).toBe(1);
      expect(dueKeys()).toEqual([kept?.key]);
      expect(h.spool.bytes()).toBe(1000);
      // a second start finds nothing left to reap
      expect(await reopen()).toEqual({ files: 0, rows: 0 });
    });

    it("takes done items out of the queue for good; what stays on disk is as configured", async () => {
      const items = await putReady(1, 2, 3);
      const rows = h.spool.due(Date.now(), 10);
      const outcomes: UploadOutcome[] = ["uploaded", "refused", "missing"];
      rmSync(`${h.spool.dir}/${items[2]?.file}`);
      for (const [i, outcome] of outcomes.entries()) await h.spool.done(rows[i] as R, outcome);
      expect(h.spool.depth()).toBe(0);
      expect(dueKeys()).toEqual([]);
      const onDisk = new Set(readdirSync(h.spool.dir));
      for (const [i, outcome] of outcomes.entries()) {
        expect(onDisk.has(items[i]?.file as string), `${outcome} keeps its file`).toBe(factory.keeps[outcome]);
      }
      const kept = items.filter((_, i) => factory.keeps[outcomes[i] as UploadOutcome]).map((i) => i.key);
      expect(h.spool.oldest("kept", 10).map((r) => r.key)).toEqual(kept);
      // done stays done after a restart; what was kept is still there
      expect(await reopen()).toEqual({ files: 0, rows: 0 });
      expect(dueKeys()).toEqual([]);
      expect(h.spool.oldest("all", 10).map((r) => r.key)).toEqual(kept);
    });

    it("retries a failed item after a growing backoff, or at once when asked", async () => {
      const [a] = await putReady(1);
      const policy = { baseMs: 10_000, maxMs: 25_000 };
      const [row] = h.spool.due(Date.now(), 1);
      const before = Date.now();
      const delay = h.spool.retry(row as R, policy);
      expect(delay).toBeGreaterThanOrEqual(8_000);
      expect(delay).toBeLessThanOrEqual(12_000);
      expect(dueKeys()).toEqual([]);
      expect(h.spool.nextDueAt()).toBeGreaterThanOrEqual(before + delay);
      expect(h.spool.nextDueAt()).toBeLessThanOrEqual(Date.now() + delay);
      // a deferred item holds nothing behind it
      const [b] = await putReady(2);
      expect(dueKeys()).toEqual([b?.key]);
      const again = h.spool.due(Date.now() + delay + 1, 10).find((r) => r.key === a?.key);
      expect(again?.attempts).toBe(1);
      // the third try waits twice as long, capped by maxMs
      expect(h.spool.retry(again as R, policy)).toBeGreaterThanOrEqual(16_000);
      expect(h.spool.retry({ ...(again as R), attempts: 5 }, policy)).toBeLessThanOrEqual(30_000);
      h.spool.retryNow();
      expect(dueKeys()).toEqual([a?.key, b?.key]);
      expect(h.spool.due(Date.now(), 1)[0]?.attempts).toBe(6);
    });

    it("gives the quota its files oldest first, kept ones apart, and evicts file and row together", async () => {
      const items = await putReady(1, 2, 3, 4);
      const [first] = h.spool.due(Date.now(), 1);
      await h.spool.done(first as R, "uploaded");
      const keptKeys = factory.keeps.uploaded ? [items[0]?.key] : [];
      const pendingKeys = items.slice(1).map((i) => i.key);
      expect(h.spool.oldest("kept", 10).map((r) => r.key)).toEqual(keptKeys);
      expect(h.spool.oldest("pending", 10).map((r) => r.key)).toEqual(pendingKeys);
      expect(h.spool.oldest("all", 2).map((r) => r.key)).toEqual([...keptKeys, ...pendingKeys].slice(0, 2));
      expect(h.spool.bytes()).toBe(1000 * (keptKeys.length + pendingKeys.length));

      const [victim] = h.spool.oldest("pending", 1);
      expect(victim).toMatchObject({ key: items[1]?.key, file: items[1]?.file, bytes: 1000 });
      h.spool.evict(victim as NonNullable<typeof victim>);
      expect(existsSync(`${h.spool.dir}/${items[1]?.file}`)).toBe(false);
      expect(h.spool.depth()).toBe(2);
      expect(dueKeys()).toEqual(pendingKeys.slice(1));
      expect(h.spool.bytes()).toBe(1000 * (keptKeys.length + 2));
      expect(await reopen()).toEqual({ files: 0, rows: 0 });
    });

    if (factory.holdsBack)
      it("holds back an item that is not ready yet without losing it", async () => {
        if (!h.release) throw new Error("a spool that holds items back needs release() in its harness");
        const held = await h.put(1, bytesOf(1));
        const [ready] = await putReady(2);
        expect(h.spool.depth()).toBe(2);
        expect(dueKeys()).toEqual([ready?.key]);
        h.release(held.key);
        expect(dueKeys()).toEqual([held.key, ready?.key]);
      });

    if (factory.writtenByWriter)
      it("leaves neither file nor row behind when a put fails half-way", async () => {
        if (!h.putFailing) throw new Error("a spool written by a writer needs putFailing() in its harness");
        await expect(h.putFailing(1)).rejects.toThrow();
        expect(readdirSync(h.spool.dir)).toEqual([]);
        expect(h.spool.depth()).toBe(0);
        expect(h.spool.bytes()).toBe(0);
      });
  });
}
