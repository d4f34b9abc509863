import type { AgentStatus } from "@kensa/contracts";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Pipeline } from "../inference/pipeline.js";

/** Push requests refused, by source and error code. */
export type PushRejections = ReadonlyMap<string, ReadonlyMap<string, number>>;

/** s; from a 6 ms int8 model to a multi-second stall on a starved device */
export const latencyBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Labels = Record<string, string>;
type Sample = { labels?: Labels; value: number };
type Pipelines = AgentStatus["pipelines"];
type Sources = AgentStatus["sources"];

/** One family read from the status document at scrape time. */
interface StatusFamily {
  type: "counter" | "gauge";
  name: string;
  help: string;
  labels?: string[];
  samples(status: AgentStatus, push: PushRejections): Sample[];
}

const byPipeline =
  (pick: (p: Pipelines[number]) => number) =>
  (s: AgentStatus): Sample[] =>
    s.pipelines.map((p) => ({ labels: { pipeline: p.id }, value: pick(p) }));
const bySource =
  (pick: (s: Sources[number]) => number) =>
  (s: AgentStatus): Sample[] =>
    s.sources.map((x) => ({ labels: { source: x.id, type: x.type }, value: pick(x) }));
const one =
  (pick: (s: AgentStatus) => number) =>
  (s: AgentStatus): Sample[] => [{ value: pick(s) }];
const memory = (pick: (m: NodeJS.MemoryUsage) => number) => () => [{ value: pick(process.memoryUsage()) }];
const pipeline = ["pipeline"];
const source = ["source", "type"];

// in exposition order; the latency histogram follows the pipeline counters
const pipelineFamilies: StatusFamily[] = [
  {
    type: "gauge",
    name: "kensa_agent_info",
    help: "Always 1; labels carry the device id and agent version.",
    labels: ["device", "version"],
    samples: (s) => [{ labels: { device: s.deviceId, version: s.agentVersion }, value: 1 }],
  },
  {
    type: "gauge",
    name: "kensa_agent_uptime_seconds",
    help: "Seconds since the agent started.",
    samples: one((s) => s.uptimeS),
  },
  {
    type: "gauge",
    name: "kensa_mqtt_connected",
    help: "1 while the broker connection is up.",
    samples: one((s) => (s.connected ? 1 : 0)),
  },
  {
    type: "counter",
    name: "kensa_frames_total",
    help: "Frames that reached a pipeline.",
    labels: pipeline,
    samples: byPipeline((p) => p.framesTotal),
  },
  {
    type: "counter",
    name: "kensa_frames_inferred_total",
    help: "Frames turned into events.",
    labels: pipeline,
    samples: byPipeline((p) => p.framesInferred),
  },
  {
    type: "counter",
    name: "kensa_frames_dropped_total",
    help: "Frames not inferred: busy (a frame was in inference) or no_model.",
    labels: ["pipeline", "reason"],
    samples: (s) => [
      ...s.pipelines.map((p) => ({ labels: { pipeline: p.id, reason: "busy" }, value: p.framesDropped })),
      ...s.pipelines.map((p) => ({ labels: { pipeline: p.id, reason: "no_model" }, value: p.framesSkipped })),
    ],
  },
  {
    type: "counter",
    name: "kensa_frames_failed_total",
    help: "Frames the model could not process.",
    labels: pipeline,
    samples: byPipeline((p) => p.framesFailed),
  },
  {
    type: "gauge",
    name: "kensa_pipeline_queue_depth",
    help: "Queued frames (push, folder-watch) waiting for inference.",
    labels: pipeline,
    samples: byPipeline((p) => p.queueDepth),
  },
];

const restFamilies: StatusFamily[] = [
  {
    type: "gauge",
    name: "kensa_bundle_info",
    help: "1 per loaded bundle; labels name it.",
    labels: ["pipeline", "sha256", "model_version"],
    samples: (s) =>
      s.pipelines.flatMap((p) =>
        p.bundle
          ? [{ labels: { pipeline: p.id, sha256: p.bundle.sha256, model_version: p.bundle.modelVersionId }, value: 1 }]
          : [],
      ),
  },
  {
    type: "counter",
    name: "kensa_source_frames_total",
    help: "Frames a source produced.",
    labels: source,
    samples: bySource((s) => s.framesTotal),
  },
  {
    type: "counter",
    name: "kensa_source_frames_sampled_out_total",
    help: "Frames the source's sampling (maxFps, everyNth) kept from its pipeline.",
    labels: source,
    samples: bySource((s) => s.framesSampledOut),
  },
  {
    type: "gauge",
    name: "kensa_source_up",
    help: "1 while the source delivers frames.",
    labels: source,
    samples: bySource((s) => (s.status === "running" ? 1 : 0)),
  },
  {
    type: "gauge",
    name: "kensa_source_failed",
    help: "1 while the source is over its restart budget.",
    labels: source,
    samples: bySource((s) => (s.status === "failed" ? 1 : 0)),
  },
  {
    type: "counter",
    name: "kensa_source_restarts_total",
    help: "Times a source's input was restarted after a failure.",
    labels: source,
    samples: bySource((s) => s.restarts),
  },
  {
    type: "counter",
    name: "kensa_source_reconnects_total",
    help: "Times a restarted source delivered frames again.",
    labels: source,
    samples: bySource((s) => s.reconnects),
  },
  {
    type: "counter",
    name: "kensa_source_stalls_total",
    help: "Times a source sent no frame within its stall timeout.",
    labels: source,
    samples: bySource((s) => s.stalls),
  },
  {
    type: "counter",
    name: "kensa_push_rejected_total",
    help: "Pushed frames refused, by error code (429 saturated, 415, 422, 413, 503).",
    labels: ["source", "code"],
    samples: (_s, push) =>
      [...push].flatMap(([id, codes]) => [...codes].map(([code, n]) => ({ labels: { source: id, code }, value: n }))),
  },
  {
    type: "gauge",
    name: "kensa_outbox_depth",
    help: "Events not yet acknowledged by the broker.",
    samples: one((s) => s.queues.outbox),
  },
  {
    type: "gauge",
    name: "kensa_media_queue_depth",
    help: "Finding frames not yet uploaded.",
    samples: one((s) => s.queues.media),
  },
  {
    type: "gauge",
    name: "kensa_capture_queue_depth",
    help: "Captured frames not yet uploaded.",
    samples: one((s) => s.queues.captures),
  },
  {
    type: "counter",
    name: "kensa_events_dropped_total",
    help: "Unsent events deleted to survive a full disk, since install.",
    samples: one((s) => s.storage.eventsDropped),
  },
  {
    type: "counter",
    name: "kensa_media_evicted_total",
    help: "Media files evicted by the disk quotas, since install.",
    samples: one((s) => s.storage.mediaEvicted),
  },
  {
    type: "gauge",
    name: "kensa_data_dir_bytes",
    help: "Bytes of files under the data dir.",
    samples: one((s) => s.disk.dataDirBytes),
  },
  {
    type: "gauge",
    name: "kensa_disk_free_bytes",
    help: "Bytes available on the data dir's filesystem.",
    samples: one((s) => s.disk.freeBytes),
  },
  // the process's memory, read at scrape time: resident set (Prometheus' standard name), the JS
  // heap, and memory outside it held by JS objects (frame buffers)
  {
    type: "gauge",
    name: "process_resident_memory_bytes",
    help: "Resident memory of the agent process.",
    samples: memory((m) => m.rss),
  },
  {
    type: "gauge",
    name: "nodejs_heap_used_bytes",
    help: "JavaScript heap in use.",
    samples: memory((m) => m.heapUsed),
  },
  {
    type: "gauge",
    name: "nodejs_external_memory_bytes",
    help: "Memory outside the JS heap held by JS objects (buffers).",
    samples: memory((m) => m.external),
  },
];

/**
 * The agent's Prometheus exposition through prom-client, on a registry of its own (never the
 * global one: tests and the CLI's demo run several agents in one process). Counters and gauges
 * are read from the status document at each scrape (one source of truth for the page, the JSON
 * API and the scrape); the inference latency histogram is observed per inference.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly #families: Array<{ family: StatusFamily; metric: Counter | Gauge }>;
  readonly #latency: Histogram<"pipeline">;
  readonly #listeners: Array<() => void> = [];

  constructor(pipelines: readonly Pipeline[]) {
    const make = (family: StatusFamily) => {
      const config = {
        name: family.name,
        help: family.help,
        labelNames: family.labels ?? [],
        registers: [this.registry],
      };
      return { family, metric: family.type === "counter" ? new Counter(config) : new Gauge(config) };
    };
    this.#families = pipelineFamilies.map(make);
    this.#latency = new Histogram({
      name: "kensa_inference_latency_seconds",
      help: "Time from frame to result: decode, preprocess, inference, postprocess.",
      labelNames: ["pipeline"],
      buckets: latencyBounds,
      registers: [this.registry],
    });
    this.#families.push(...restFamilies.map(make));
    for (const p of pipelines) {
      this.#latency.zero({ pipeline: p.id });
      const on = (event: { latencyMs: { total: number } }) =>
        this.#latency.observe({ pipeline: p.id }, event.latencyMs.total / 1000);
      p.on("inferred", on);
      this.#listeners.push(() => p.off("inferred", on));
    }
  }

  /** `text/plain; version=0.0.4; charset=utf-8` */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for this status; a series that left the status (a replaced bundle) leaves it too. */
  render(status: AgentStatus, pushRejections: PushRejections): Promise<string> {
    for (const { family, metric } of this.#families) {
      metric.reset();
      for (const s of family.samples(status, pushRejections)) {
        if (metric instanceof Counter) metric.inc(s.labels ?? {}, s.value);
        else metric.set(s.labels ?? {}, s.value);
      }
    }
    return this.registry.metrics();
  }

  close(): void {
    for (const off of this.#listeners.splice(0)) off();
  }
}
