import type { AgentStatus, InferenceStats } from "./agent-status.js";
import { latencyBounds } from "./latency-histogram.js";
import { MetricsText } from "./metrics-text.js";

/** Push requests refused, by source and error code. */
export type PushRejections = ReadonlyMap<string, ReadonlyMap<string, number>>;

/**
 * The agent's Prometheus exposition, derived from the status document (one source of truth
 * for the page, the JSON API and the scrape) plus the latency histograms.
 */
export function renderMetrics(status: AgentStatus, inference: InferenceStats, pushRejections: PushRejections): string {
  const m = new MetricsText();
  const byPipeline = (pick: (p: AgentStatus["pipelines"][number]) => number) =>
    status.pipelines.map((p) => ({ labels: { pipeline: p.id }, value: pick(p) }));
  const bySource = (pick: (s: AgentStatus["sources"][number]) => number) =>
    status.sources.map((s) => ({ labels: { source: s.id, type: s.type }, value: pick(s) }));

  m.gauge("kensa_agent_info", "Always 1; labels carry the device id and agent version.", [
    { labels: { device: status.deviceId, version: status.agentVersion }, value: 1 },
  ]);
  m.gauge("kensa_agent_uptime_seconds", "Seconds since the agent started.", [{ value: status.uptimeS }]);
  m.gauge("kensa_mqtt_connected", "1 while the broker connection is up.", [{ value: status.connected ? 1 : 0 }]);

  m.counter(
    "kensa_frames_total",
    "Frames that reached a pipeline.",
    byPipeline((p) => p.framesTotal),
  );
  m.counter(
    "kensa_frames_inferred_total",
    "Frames turned into events.",
    byPipeline((p) => p.framesInferred),
  );
  m.counter("kensa_frames_dropped_total", "Frames not inferred: busy (a frame was in inference) or no_model.", [
    ...status.pipelines.map((p) => ({ labels: { pipeline: p.id, reason: "busy" }, value: p.framesDropped })),
    ...status.pipelines.map((p) => ({ labels: { pipeline: p.id, reason: "no_model" }, value: p.framesSkipped })),
  ]);
  m.counter(
    "kensa_frames_failed_total",
    "Frames the model could not process.",
    byPipeline((p) => p.framesFailed),
  );
  m.gauge(
    "kensa_pipeline_queue_depth",
    "Queued frames (push, folder-watch) waiting for inference.",
    byPipeline((p) => p.queueDepth),
  );
  m.histogram(
    "kensa_inference_latency_seconds",
    "Time from frame to result: decode, preprocess, inference, postprocess.",
    status.pipelines.map((p) => {
      const h = inference.latency.get(p.id);
      return { labels: { pipeline: p.id }, bounds: latencyBounds, counts: h?.counts ?? [], sum: h?.sum ?? 0 };
    }),
  );
  m.gauge(
    "kensa_bundle_info",
    "1 per loaded bundle; labels name it.",
    status.pipelines.flatMap((p) =>
      p.bundle
        ? [{ labels: { pipeline: p.id, sha256: p.bundle.sha256, model_version: p.bundle.modelVersionId }, value: 1 }]
        : [],
    ),
  );

  m.counter(
    "kensa_source_frames_total",
    "Frames a source produced.",
    bySource((s) => s.framesTotal),
  );
  m.counter(
    "kensa_source_frames_sampled_out_total",
    "Frames the source's sampling (maxFps, everyNth) kept from its pipeline.",
    bySource((s) => s.framesSampledOut),
  );
  m.gauge(
    "kensa_source_up",
    "1 while the source delivers frames.",
    bySource((s) => (s.status === "running" ? 1 : 0)),
  );
  m.gauge(
    "kensa_source_failed",
    "1 while the source is over its restart budget.",
    bySource((s) => (s.status === "failed" ? 1 : 0)),
  );
  m.counter(
    "kensa_source_restarts_total",
    "Times a source's input was restarted after a failure.",
    bySource((s) => s.restarts),
  );
  m.counter(
    "kensa_source_reconnects_total",
    "Times a restarted source delivered frames again.",
    bySource((s) => s.reconnects),
  );
  m.counter(
    "kensa_source_stalls_total",
    "Times a source sent no frame within its stall timeout.",
    bySource((s) => s.stalls),
  );
  m.counter(
    "kensa_push_rejected_total",
    "Pushed frames refused, by error code (429 saturated, 415, 422, 413, 503).",
    [...pushRejections].flatMap(([source, codes]) =>
      [...codes].map(([code, n]) => ({ labels: { source, code }, value: n })),
    ),
  );

  m.gauge("kensa_outbox_depth", "Events not yet acknowledged by the broker.", [{ value: status.queues.outbox }]);
  m.gauge("kensa_media_queue_depth", "Finding frames not yet uploaded.", [{ value: status.queues.media }]);
  m.gauge("kensa_capture_queue_depth", "Captured frames not yet uploaded.", [{ value: status.queues.captures }]);
  m.counter("kensa_events_dropped_total", "Unsent events deleted to survive a full disk, since install.", [
    { value: status.storage.eventsDropped },
  ]);
  m.counter("kensa_media_evicted_total", "Media files evicted by the disk quotas, since install.", [
    { value: status.storage.mediaEvicted },
  ]);
  m.gauge("kensa_data_dir_bytes", "Bytes of files under the data dir.", [{ value: status.disk.dataDirBytes }]);
  m.gauge("kensa_disk_free_bytes", "Bytes available on the data dir's filesystem.", [{ value: status.disk.freeBytes }]);
  // the process's memory, read at scrape time: resident set (Prometheus' standard name), the JS
  // heap, and memory outside it held by JS objects (frame buffers)
  const mem = process.memoryUsage();
  m.gauge("process_resident_memory_bytes", "Resident memory of the agent process.", [{ value: mem.rss }]);
  m.gauge("nodejs_heap_used_bytes", "JavaScript heap in use.", [{ value: mem.heapUsed }]);
  m.gauge("nodejs_external_memory_bytes", "Memory outside the JS heap held by JS objects (buffers).", [
    { value: mem.external },
  ]);
  return m.text();
}
