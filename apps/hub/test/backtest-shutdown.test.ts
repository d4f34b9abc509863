import { join } from "node:path";
import type { Backtest } from "@kensa/contracts";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { seed, startHub, type TestHub } from "./helpers.js";
import { brightnessModel, greyImage, uploadModel } from "./registry-gate-models.js";

/** frames enough that the replay is still running when the hub is told to stop */
const FRAMES = 1500;

/**
 * Stores `n` incident frames of one camera over the last hour, as ingest leaves them (event,
 * incident, frame blob), straight into the hub's database: the ingest path is tested elsewhere
 * and would take most of this test's time.
 */
async function storeFrames(t: TestHub, projectId: string, modelId: string, n: number): Promise<void> {
  const db = t.hub.store.db;
  const now = Date.now();
  for (let k = 0; k < n; k += 250) {
    const events = [];
    const incidents = [];
    for (let i = k; i < Math.min(n, k + 250); i++) {
      const { png } = await greyImage(40 + (i % 200), i % 41);
      const { sha256 } = await t.hub.blobs.put(png);
      const ts = new Date(now - 3_600_000 + i * 100).toISOString();
      events.push({
        id: `evt-sd-${i}`,
        seq: i + 1,
        device_id: "cam-1",
        project_id: projectId,
        pipeline: "default",
        source_id: "cam",
        ts,
        received_at: ts,
        model_version_id: modelId,
        bundle_sha256: "b".repeat(64),
        result: JSON.stringify({ task: "classification", label: "defect", score: 0.9, scores: {} }),
        frame_meta: "{}",
        frame_width: 16,
        frame_height: 16,
        latency: JSON.stringify({ preprocess: 1, inference: 1, total: 2 }),
        media_expected: 1,
        media_sha256: sha256,
      });
      incidents.push({
        id: `inc_sd_${i}`,
        project_id: projectId,
        device_id: "cam-1",
        event_id: `evt-sd-${i}`,
        status: "open",
        label: "defect",
        score: 0.9,
        rule: "threshold: defect ≥ 0.50",
        model_version_id: modelId,
        bundle_sha256: "b".repeat(64),
        frame_meta: "{}",
        media_sha256: sha256,
        created_at: ts,
        acknowledged_by: null,
        acknowledged_at: null,
        clip_sha256: null,
        clip_content_type: null,
        clip_size: null,
        clip_duration_ms: null,
      });
    }
    await db.insertInto("events").values(events).execute();
    await db.insertInto("incidents").values(incidents).execute();
  }
}

describe("a backtest the hub stops in the middle", () => {
  let dir: TempDir;
  let t: TestHub | undefined;
  afterAll(async () => {
    await t?.close();
    await dir?.remove();
  });

  it("goes back to the queue and is finished by the restarted hub", async () => {
    dir = await tempDir("kensa-backtest-shutdown-");
    t = await startHub({ training: { pollMs: 20 } }, { dir });
    const { projectId } = await seed(t.call, "bt-sd", [{ id: "cam-1" }]);
    const model = await uploadModel(t.call, projectId, brightnessModel(0.3), "candidate");
    await storeFrames(t, projectId, model.id, FRAMES);

    const first = t;
    const queued = await first.call<Backtest>("POST", `/api/v1/projects/${projectId}/backtests`, {
      body: { modelVersionId: model.id, limit: FRAMES },
    });
    expect(queued.status).toBe(202);
    await waitFor(
      "the backtest runs",
      async () =>
        (await first.call<Backtest>("GET", `/api/v1/backtests/${queued.json.id}`)).json.status === "running" ||
        undefined,
      { intervalMs: 5 },
    );
    await first.close();
    t = undefined;
    const stopped = await readRow(dir, queued.json.id);
    // the replay was cut short: nothing half-written, the job is queued again
    expect(stopped).toMatchObject({ status: "queued", report: null });

    t = await startHub({ training: { pollMs: 20 } }, { dir });
    const second = t;
    const done = await waitFor(
      "the restarted hub finishes it",
      async () => {
        const b = (await second.call<Backtest>("GET", `/api/v1/backtests/${queued.json.id}`)).json;
        return b.status === "succeeded" || b.status === "failed" ? b : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(done.error).toBeNull();
    expect(done.report?.totals).toMatchObject({ frames: FRAMES, skipped: 0 });
    const job = await second.hub.store.db
      .selectFrom("jobs")
      .selectAll()
      .where("id", "=", done.jobId!)
      .executeTakeFirstOrThrow();
    expect(job).toMatchObject({ status: "succeeded", attempts: 2 });
  });
});

/** The stored row while no hub runs: the hub's own database, opened read-only. */
async function readRow(dir: TempDir, id: string): Promise<{ status: string; report: string | null }> {
  // the hub's default SQLite file (open-database.ts)
  const db = new Database(join(dir.path, "kensa.db"), { readonly: true });
  try {
    return db.prepare("SELECT status, report FROM backtests WHERE id = ?").get(id) as {
      status: string;
      report: string | null;
    };
  } finally {
    db.close();
  }
}
