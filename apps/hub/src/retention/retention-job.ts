import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { isKensaError, KensaError, type RetentionRun } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { RetentionConfig } from "../config/retention-config.js";
import type { HubDatabase } from "../db/schema.js";
import type { NamedLease } from "../jobs/named-lease.js";
import { CaptureSweep } from "./capture-sweep.js";
import { EventSweep } from "./event-sweep.js";
import type { LegalHoldService } from "./hold-service.js";
import { type KindSweep, type SweepContext, type SweepOptions, type SweepRow, sweepKind } from "./kind-sweep.js";
import { MediaSweep } from "./media-sweep.js";
import type { RetentionPolicyService } from "./policy-service.js";
import { type RetentionDb, retentionDb } from "./retention-tables.js";
import { addCounters, emptyCounters, type RunCounters } from "./run-counters.js";
import { labelBlobs, SnapshotRefs } from "./snapshot-refs.js";

export interface RetentionJobDeps {
  db: Kysely<HubDatabase>;
  blobs: Pick<BlobStore, "get" | "delete" | "supportsLocalPaths" | "path">;
  policies: RetentionPolicyService;
  holds: LegalHoldService;
  config: RetentionConfig;
  /** held while a run deletes, so of several replicas one runs at a time */
  lease: NamedLease;
  log: FastifyBaseLogger;
}

/**
 * Applies every project's retention limits, on a schedule (`retention.everyMinutes`) or on
 * request. A run holds the named lease `retention` (renewed while it runs), so two replicas on
 * one database never run at once; a scheduled run is skipped when any replica finished one
 * within the interval, so the schedule fires once across replicas. Each run is recorded in
 * `retention_runs` with what it deleted and why it kept what it kept.
 */
export class RetentionJob {
  #d: RetentionJobDeps;
  #db: RetentionDb;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<RetentionRun | null> | null = null;
  #stopping = false;
  #snapshots: SnapshotRefs;
  #sweeps: Array<KindSweep<SweepRow>>;
  /** process-lifetime totals, for /metrics */
  readonly totals: RunCounters = emptyCounters();
  runs = 0;

  constructor(deps: RetentionJobDeps) {
    this.#d = deps;
    this.#db = retentionDb(deps.db);
    this.#snapshots = new SnapshotRefs(deps.db, deps.blobs);
    const size = async (sha: string): Promise<number> => {
      if (deps.blobs.supportsLocalPaths && deps.blobs.path)
        return stat(deps.blobs.path(sha)).then(
          (s) => s.size,
          () => 0,
        );
      return (await deps.blobs.get(sha))?.byteLength ?? 0;
    };
    this.#sweeps = [
      new EventSweep(deps.db),
      new MediaSweep(deps.db, "frames"),
      new MediaSweep(deps.db, "clips"),
      new CaptureSweep(deps.db, size),
    ] as Array<KindSweep<SweepRow>>;
  }

  start(): void {
    if (this.#timer || !this.#d.config.enabled) return;
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.run("schedule").catch((err: unknown) => this.#d.log.error({ err }, "retention run failed"));
    }, this.#d.config.everyMinutes * 60_000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => undefined);
  }

  /**
   * One run; null when it did not run (another replica holds the lease, or — scheduled — one
   * ran within the interval). A requested run while one is going throws KENSA_ERR_RETENTION_BUSY.
   */
  run(trigger: RetentionRun["trigger"]): Promise<RetentionRun | null> {
    if (this.#running) {
      if (trigger === "request") return Promise.reject(busy());
      return this.#running;
    }
    this.#running = this.#run(trigger).finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #run(trigger: RetentionRun["trigger"]): Promise<RetentionRun | null> {
    const { lease, log } = this.#d;
    const db = this.#db;
    if (!(await lease.acquire())) {
      if (trigger === "request") throw busy();
      return null;
    }
    const renew = setInterval(
      () => void lease.acquire().catch((err: unknown) => log.warn({ err }, "retention lease renewal failed")),
      Math.max(50, Math.floor(lease.ttlMs / 3)),
    );
    try {
      if (trigger === "schedule") {
        const last = await db
          .selectFrom("retention_runs")
          .select("finished_at")
          .orderBy("finished_at", "desc")
          .limit(1)
          .executeTakeFirst();
        const since = last ? Date.now() - Date.parse(last.finished_at) : Number.POSITIVE_INFINITY;
        if (since < this.#d.config.everyMinutes * 60_000 * 0.9) return null;
      }
      const startedAt = isoNow();
      const counters = await this.#apply();
      const run: RetentionRun = {
        id: `ret_${Date.now().toString(36)}${randomBytes(6).toString("base64url")}`,
        holder: lease.holder,
        trigger,
        startedAt,
        finishedAt: isoNow(),
        ...counters,
      };
      await db
        .insertInto("retention_runs")
        .values({
          id: run.id,
          holder: run.holder,
          started_at: startedAt,
          finished_at: run.finishedAt,
          result: JSON.stringify(run),
        })
        .execute();
      addCounters(this.totals, counters);
      this.runs++;
      const level = counters.failed.length > 0 ? "warn" : "info";
      log[level](
        { run: run.id, trigger, deleted: run.deleted, kept: run.kept, bytesFreed: run.bytesFreed, failed: run.failed },
        "retention run",
      );
      return run;
    } finally {
      clearInterval(renew);
      await lease.release().catch(() => undefined);
    }
  }

  async #apply(): Promise<RunCounters> {
    const { db, config } = this.#d;
    const counters = emptyCounters();
    const now = Date.now();
    let snapshots: Awaited<ReturnType<SnapshotRefs["load"]>>;
    try {
      const refs = await this.#snapshots.load();
      const masks = await labelBlobs(db);
      snapshots = { sampleIds: refs.sampleIds, blobs: new Set([...refs.blobs, ...masks]) };
    } catch (err) {
      // not knowing what the snapshots and labels hold, nothing is deleted
      counters.failed.push({ projectId: "*", kind: "snapshots", ...failure(err) });
      return counters;
    }
    const opts: SweepOptions = {
      db,
      blobs: this.#d.blobs,
      batchSize: config.batchSize,
      pauseMs: config.pauseMs,
      counters,
      now,
      stopping: () => this.#stopping,
    };
    for (const { projectId, limits } of await this.#d.policies.all()) {
      const holds = await this.#d.holds.active(projectId);
      const ctx: SweepContext = { projectId, holds, snapshots };
      for (const sweep of this.#sweeps) {
        if (this.#stopping) return counters;
        try {
          await sweepKind(sweep, ctx, limits[sweep.kind], opts);
        } catch (err) {
          counters.failed.push({ projectId, kind: sweep.kind, ...failure(err) });
        }
      }
      // each device's latest frame (one row per device, bytes in the database) ages out too
      const maxAge = limits.frames.maxAgeDays;
      if (maxAge !== null && !holds.project) {
        const before = new Date(now - maxAge * 86_400_000).toISOString();
        const res = await db
          .deleteFrom("device_frames")
          .where("received_at", "<", before)
          .where("device_id", "in", (eb) => eb.selectFrom("devices").select("id").where("project_id", "=", projectId))
          .$if(holds.devices.size > 0, (q) => q.where("device_id", "not in", [...holds.devices]))
          .executeTakeFirst();
        counters.deleted.deviceFrames += Number(res.numDeletedRows);
      }
    }
    return counters;
  }

  /** The latest runs across replicas, newest first. */
  async list(limit: number): Promise<RetentionRun[]> {
    const rows = await this.#db
      .selectFrom("retention_runs")
      .select("result")
      .orderBy("started_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return rows.map((r) => JSON.parse(r.result) as RetentionRun);
  }
}

function busy(): KensaError {
  return new KensaError(
    "KENSA_ERR_RETENTION_BUSY",
    "a retention run is already in progress on a hub replica; try again when it ends",
  );
}

function failure(err: unknown): { code: string; message: string } {
  if (isKensaError(err)) return { code: err.code, message: err.message };
  return { code: "KENSA_ERR_INTERNAL", message: err instanceof Error ? err.message : String(err) };
}
