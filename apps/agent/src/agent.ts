import { join } from "node:path";
import type { Reported, Telemetry } from "@kensa/contracts";
import { Classifier } from "@kensa/vision";
import { openAgentDb, StateStore } from "./agent-db.js";
import { agentVersion } from "./agent-version.js";
import { BundleStore } from "./bundle-store.js";
import type { AgentConfig } from "./config.js";
import { Logger } from "./logger.js";
import { MediaQueue } from "./media-queue.js";
import { MediaUploader } from "./media-uploader.js";
import type { ModelLoader } from "./model.js";
import { MqttLink } from "./mqtt-link.js";
import { Outbox } from "./outbox.js";
import { Pipeline, type PipelineStats } from "./pipeline.js";
import { OutboxPublisher } from "./publisher.js";
import { PidFiles } from "./sources/pid-files.js";
import { SourceSet } from "./sources/source-set.js";
import { StateReporter } from "./state-reporter.js";
import { buildStatusServer, type StatusServer } from "./status/status-server.js";
import { TelemetryReporter } from "./telemetry.js";
import { Updater } from "./updater.js";

/** ms the shutdown waits for the broker to acknowledge the outbox */
const shutdownFlushMs = 3000;

export interface AgentDeps {
  logger?: Logger;
  /** builds a model from verified bundle bytes; ONNX Runtime through @kensa/vision by default */
  loadModel?: ModelLoader;
}

export interface AgentStats extends PipelineStats {
  connected: boolean;
  outboxDepth: number;
  mediaQueueDepth: number;
  desiredRev: number;
  invalidDesiredMessages: number;
}

/** Sums the counters of every pipeline. */
function sumStats(pipelines: Iterable<Pipeline>): PipelineStats {
  const sum: PipelineStats = {
    framesTotal: 0,
    framesInferred: 0,
    framesDropped: 0,
    framesSkipped: 0,
    framesFailed: 0,
    queueDepth: 0,
  };
  for (const p of pipelines) {
    const s = p.stats();
    for (const k of Object.keys(sum) as Array<keyof PipelineStats>) sum[k] += s[k];
  }
  return sum;
}

export interface RunningAgent {
  readonly config: AgentConfig;
  readonly agentVersion: string;
  /** the local status server's base URL, when it is enabled and bound */
  readonly statusUrl: string | undefined;
  stats(): AgentStats;
  reported(): Reported;
  telemetry(): Telemetry;
  /** Stops sources, finishes the frame in flight, flushes the outbox (≤ 3 s), goes offline. */
  stop(): Promise<void>;
}

/**
 * Starts an agent. Recover before serve, warm up before ready: the database and data dir are
 * reaped, the last good bundle is loaded and warmed up from disk, and only then does the agent
 * connect, publish and start its cameras.
 */
export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const log = (deps.logger ?? new Logger()).child({ deviceId: config.deviceId });
  const loadModel: ModelLoader =
    deps.loadModel ??
    ((bytes, manifest) =>
      Classifier.create(
        bytes,
        manifest,
        config.intraOpThreads !== undefined ? { intraOpThreads: config.intraOpThreads } : undefined,
      ));

  const db = openAgentDb(config.dataDir);
  const mediaDir = join(config.dataDir, "media");
  const outbox = new Outbox(db, mediaDir);
  const media = new MediaQueue(db, mediaDir);
  const state = new StateStore(db);
  const store = new BundleStore(join(config.dataDir, "bundles"));
  const reaped = await media.reap();
  const reapedBundles = await store.reap();
  // ffmpeg children a SIGKILLed predecessor could not stop
  const runDir = join(config.dataDir, "run");
  const reapedChildren = await new PidFiles(runDir).reap();
  if (reaped.files + reaped.rows + reapedBundles + reapedChildren > 0) {
    log.info("recovered data dir", {
      mediaFiles: reaped.files,
      mediaRows: reaped.rows,
      bundleTemps: reapedBundles,
      orphanChildren: reapedChildren,
    });
  }
  outbox.on("mediaFailed", (eventId, err) => log.error("cannot store a finding's frame", { eventId, err }));

  // one pipeline per id the sources name; the updater drives the agent's `pipeline` (default)
  const pipelineIds = new Set([config.pipeline, ...config.sources.map((s) => s.pipeline ?? config.pipeline)]);
  const pipelines = new Map(
    [...pipelineIds].map((id) => [
      id,
      new Pipeline({ id, deviceId: config.deviceId, outbox, logger: log, queueSize: config.frameQueue }),
    ]),
  );
  const pipeline = pipelines.get(config.pipeline) as Pipeline;
  const updater = new Updater({
    deviceId: config.deviceId,
    secret: config.secret,
    hubUrl: config.hubUrl,
    pipeline,
    store,
    state,
    loadModel,
    logger: log,
  });
  await updater.restore();

  const link = new MqttLink({
    url: config.mqttUrl,
    deviceId: config.deviceId,
    secret: config.secret,
    agentVersion,
    logger: log,
  });
  link.on("desired", (payload) => updater.handleDesired(payload));
  const publisher = new OutboxPublisher(outbox, link, { deviceId: config.deviceId, logger: log });
  const uploader = new MediaUploader(media, outbox, {
    hubUrl: config.hubUrl,
    deviceId: config.deviceId,
    secret: config.secret,
    concurrency: config.mediaUploadConcurrency,
    logger: log,
  });
  const sourceSet = new SourceSet({
    configs: config.sources,
    defaultPipeline: config.pipeline,
    sinks: pipelines,
    context: { ffmpegPath: config.ffmpegPath, runDir },
    logger: log,
  });
  const sources = sourceSet.sources;
  const telemetry = new TelemetryReporter({
    deviceId: config.deviceId,
    intervalMs: config.telemetryIntervalMs,
    pipelines: [...pipelines.values()],
    outbox,
    media,
    link,
    logger: log,
  });
  const reporter = new StateReporter({
    deviceId: config.deviceId,
    agentVersion,
    intervalMs: config.reportIntervalMs,
    updater,
    sources,
    link,
    logger: log,
  });

  let status: StatusServer | undefined;
  let statusUrl: string | undefined;
  if (config.status.enabled) {
    status = buildStatusServer({
      deviceId: config.deviceId,
      agentVersion,
      dataDir: config.dataDir,
      pipelines,
      sources: sourceSet,
      outboxDepth: () => outbox.depth(),
      mediaQueueDepth: () => media.depth(),
      connected: () => link.connected,
      reportedPipelines: () => updater.pipelines(),
      logger: log,
    });
    try {
      statusUrl = (await status.listen(config.status.port, config.status.host)).url;
    } catch (err) {
      // the status page is not worth stopping inspection for; push sources say why they get nothing
      const e = err as { code?: string; message?: string };
      log.error("status server not started", { code: e.code, message: e.message });
      await status.close();
      status = undefined;
    }
  }

  publisher.start();
  link.start();
  uploader.start();
  telemetry.start();
  reporter.start();
  sourceSet.start();
  reporter.changed();
  log.info("agent started", {
    agentVersion,
    dataDir: config.dataDir,
    mqttUrl: config.mqttUrl,
    hubUrl: config.hubUrl,
    pipeline: config.pipeline,
    bundle: pipeline.loaded?.bundle ?? null,
    sources: sources.map((s) => `${s.type}:${s.id}`),
    statusUrl: statusUrl ?? null,
  });

  const liveStats = (): AgentStats => ({
    ...sumStats(pipelines.values()),
    connected: link.connected,
    outboxDepth: outbox.depth(),
    mediaQueueDepth: media.depth(),
    desiredRev: updater.desiredRev,
    invalidDesiredMessages: updater.invalidMessages,
  });
  let finalStats: AgentStats | undefined;
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await status?.close();
    await sourceSet.stop();
    await Promise.all([...pipelines.values()].map((p) => p.idle()));
    await updater.stop();
    const deadline = Date.now() + shutdownFlushMs;
    while (link.connected && outbox.depth() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const left = outbox.depth();
    publisher.stop();
    telemetry.stop();
    reporter.stop();
    await uploader.stop();
    await link.close();
    await Promise.all([...pipelines.values()].map((p) => p.swap(null)));
    finalStats = { ...liveStats(), connected: false };
    db.close();
    log.info("agent stopped", { outboxDepth: left });
  };

  return {
    config,
    agentVersion,
    statusUrl,
    stats: () => finalStats ?? liveStats(),
    reported: () => reporter.snapshot(),
    telemetry: () => telemetry.snapshot(),
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}
