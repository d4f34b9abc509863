import { type AgentStatus, agentStatusRoutes, type ReportedPipeline, routePath } from "@kensa/contracts";
import type { CaptureStats } from "../capture/capturer.js";
import type { ClipInfo } from "../clips/clip-store.js";
import type { Pipeline } from "../inference/pipeline.js";
import type { FfmpegBinary } from "../sources/ffmpeg-binary.js";
import type { SourceSet } from "../sources/source-set.js";
import type { DiskUsage } from "./disk-usage.js";
import { LatencyWindow } from "./latency-window.js";

/** What the status server reads; all of it live objects of the running agent. */
export interface StatusDeps {
  deviceId: string;
  agentVersion: string;
  dataDir: string;
  pipelines: ReadonlyMap<string, Pipeline>;
  sources: SourceSet;
  outboxDepth(): number;
  mediaQueueDepth(): number;
  connected(): boolean;
  /** the updater's view of the pipelines it drives (status, errors, warm-up) */
  reportedPipelines(): ReportedPipeline[];
  captureQueueDepth?(): number;
  captureStats?(): CaptureStats | undefined;
  storage?(): AgentStatus["storage"];
  clips?(): ClipInfo[];
  /** the file of a clip by name, if the agent has it */
  clipPath?(file: string): string | undefined;
  /** which ffmpeg runs: undefined when no source needs one, null when none was found */
  ffmpeg?: FfmpegBinary | null;
}

/** Inference latency and rate per pipeline, fed by the pipelines' `inferred` events. */
export class InferenceStats {
  readonly latency = new Map<string, LatencyWindow>();
  readonly #times = new Map<string, number[]>();
  readonly #listeners: Array<() => void> = [];

  constructor(pipelines: readonly Pipeline[]) {
    for (const p of pipelines) {
      const h = new LatencyWindow();
      const times: number[] = [];
      this.latency.set(p.id, h);
      this.#times.set(p.id, times);
      const on = (event: { latencyMs: { total: number } }) => {
        h.observe(event.latencyMs.total);
        times.push(performance.now());
        if (times.length > 1000) times.splice(0, times.length - 1000);
      };
      p.on("inferred", on);
      this.#listeners.push(() => p.off("inferred", on));
    }
  }

  /** inferences per second of a pipeline over the last 5 s */
  fps(pipelineId: string): number {
    const now = performance.now();
    const recent = (this.#times.get(pipelineId) ?? []).filter((t) => t >= now - 5000);
    if (recent.length < 2) return 0;
    return Math.round(((recent.length - 1) / Math.max(now - (recent[0] as number), 1)) * 1000 * 100) / 100;
  }

  close(): void {
    for (const off of this.#listeners.splice(0)) off();
  }
}

/** Builds the status document (`agentStatusRoutes.status`). */
export async function buildAgentStatus(
  deps: StatusDeps,
  inference: InferenceStats,
  disk: DiskUsage,
  startedAt: number,
): Promise<AgentStatus> {
  const reported = new Map(deps.reportedPipelines().map((r) => [r.id, r]));
  const usage = await disk.sample();
  return {
    deviceId: deps.deviceId,
    agentVersion: deps.agentVersion,
    ts: new Date().toISOString(),
    uptimeS: Math.round((Date.now() - startedAt) / 100) / 10,
    connected: deps.connected(),
    pipelines: [...deps.pipelines.values()].map((p) => {
      const r = reported.get(p.id);
      const loaded = p.loaded?.bundle;
      return {
        id: p.id,
        status: r?.status ?? (loaded ? "loaded" : "idle"),
        bundle: loaded ? { ...loaded } : null,
        ...(r?.warmupMs !== undefined ? { warmupMs: r.warmupMs } : {}),
        ...(r?.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
        fps: inference.fps(p.id),
        latencyMs: inference.latency.get(p.id)?.percentiles() ?? { p50: 0, p95: 0, p99: 0 },
        ...p.stats(),
      };
    }),
    sources: deps.sources.entries.map((e) => ({
      ...e.stats(),
      latest: routePath(agentStatusRoutes.latestFrame.path, { id: e.source.id }),
    })),
    queues: { outbox: deps.outboxDepth(), media: deps.mediaQueueDepth(), captures: deps.captureQueueDepth?.() ?? 0 },
    ...(deps.ffmpeg === undefined
      ? {}
      : { ffmpeg: deps.ffmpeg && { path: deps.ffmpeg.path, from: deps.ffmpeg.from, version: deps.ffmpeg.version } }),
    ...(deps.captureStats?.() ? { capture: deps.captureStats() } : {}),
    storage: deps.storage?.() ?? {
      eventsDropped: 0,
      mediaEvicted: 0,
      mediaBytes: 0,
      mediaQuotaBytes: 0,
      offlineQuotaBytes: 0,
    },
    clips: (deps.clips?.() ?? []).map((c) => ({ ...c, url: routePath(agentStatusRoutes.clip.path, { file: c.file }) })),
    disk: { dataDir: deps.dataDir, ...usage },
  };
}
