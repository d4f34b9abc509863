/**
 * Backtest speed: N synthetic incident frames (each a stored event, incident and JPEG blob, with a
 * verdict on every fourth) replayed through Kensa's hand-built blemish CNN and the project's
 * incident rule by the hub's backtest job, on one core.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type Backtest, backtestRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import { createInspectionProject, pushBlemishModel, type ScenarioHub, startScenarioHub } from "@kensa/scenario";
import { tempDir, waitFor } from "@kensa/testkit";
import sharp from "sharp";
import { table } from "./report.js";

/** frames per run; KENSA_BENCH_BACKTEST_FRAMES changes it (at most the backtest's maximum, 10,000) */
const FRAMES = Number(process.env.KENSA_BENCH_BACKTEST_FRAMES ?? 500);

export async function backtestSection() {
  const dir = await tempDir("kensa-bench-backtest-");
  let hub: ScenarioHub<Hub> | undefined;
  try {
    hub = await startScenarioHub({ createHub, dataDir: join(dir.path, "hub") });
    const api = hub.client;
    const project = await createInspectionProject(api, { slug: "bench-backtest" });
    const model = await pushBlemishModel(api, project.id);
    const seeded = await seedFrames(hub.hub, project.id, model.id, FRAMES);
    const t0 = performance.now();
    const queued = await api.call(backtestRoutes.create, {
      params: { id: project.id },
      body: { modelVersionId: model.id, limit: Math.min(FRAMES, 10_000) },
    });
    const done: Backtest = await waitFor(
      "backtest ends",
      async () => {
        const b = await api.call(backtestRoutes.get, { params: { id: queued.id } });
        return b.status === "succeeded" || b.status === "failed" ? b : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 100 },
    );
    const wallMs = performance.now() - t0;
    if (!done.report) throw new Error(`backtest failed: ${done.error?.code}: ${done.error?.message}`);
    const r = done.report;
    const row = {
      frames: r.totals.frames,
      frameSize: `${seeded.width}×${seeded.height}`,
      replayFps: Math.round(r.framesPerSecond),
      endToEndFps: Math.round((r.totals.frames * 1000) / wallMs),
      replayMs: r.durationMs,
      wallMs: Math.round(wallMs),
    };
    const markdown = [
      `${row.frames} incident frames (${row.frameSize} JPEG) through the 64×64 blemish CNN and the project's`,
      "rule, on one ONNX Runtime thread: replay (read, decode, infer, rules) and end to end",
      "(queue, frame selection, replay, report stored, seen by a poll every 100 ms).",
      "",
      table(
        ["frames", "frame", "replay frames/s", "end-to-end frames/s", "replay ms", "wall ms"],
        [[row.frames, row.frameSize, row.replayFps, row.endToEndFps, row.replayMs, row.wallMs]],
      ),
    ].join("\n");
    return { markdown, data: row };
  } finally {
    await hub?.close();
    await dir.remove();
  }
}

/**
 * Stores `n` events from one camera over the last day, each with an incident and its frame (a
 * noisy grey JPEG unique per frame), and a verdict on every fourth: what ingest leaves behind.
 */
async function seedFrames(hub: Hub, projectId: string, modelId: string, n: number) {
  const db = hub.store.db;
  const width = 320;
  const height = 240;
  const deviceId = "bench-cam";
  const now = Date.now();
  for (let k = 0; k < n; k += 100) {
    const events = [];
    const incidents = [];
    const verdicts = [];
    for (let i = k; i < Math.min(n, k + 100); i++) {
      const px = randomBytes(width * height * 3);
      const jpeg = await sharp(px, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 85 })
        .toBuffer();
      const { sha256 } = await hub.blobs.put(jpeg);
      const id = `evt-bench-${i}`;
      const ts = new Date(now - 86_400_000 + i * 1000).toISOString();
      const result = { task: "classification", label: "defect", score: 0.9, scores: { ok: 0.1, defect: 0.9 } };
      events.push({
        id,
        seq: i + 1,
        device_id: deviceId,
        project_id: projectId,
        pipeline: "default",
        source_id: "cam",
        ts,
        received_at: ts,
        model_version_id: modelId,
        bundle_sha256: "b".repeat(64),
        result: JSON.stringify(result),
        frame_meta: "{}",
        frame_width: width,
        frame_height: height,
        latency: JSON.stringify({ preprocess: 1, inference: 2, total: 3 }),
        media_expected: 1,
        media_sha256: sha256,
      });
      incidents.push({
        id: `inc_bench_${i}`,
        project_id: projectId,
        device_id: deviceId,
        event_id: id,
        status: i % 4 === 0 ? "false_alarm" : "open",
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
      if (i % 4 === 0) {
        verdicts.push({
          id: `vrd_bench_${i}`,
          incident_id: `inc_bench_${i}`,
          verdict: "false_alarm",
          labels: "[]",
          note: null,
          decided_by: "bench",
          created_at: ts,
        });
      }
    }
    await db.insertInto("events").values(events).execute();
    await db.insertInto("incidents").values(incidents).execute();
    if (verdicts.length) await db.insertInto("verdicts").values(verdicts).execute();
  }
  return { width, height };
}
