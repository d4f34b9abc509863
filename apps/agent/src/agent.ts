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
import type { FrameSource } from "./sources/frame-source.js";
import { createSource } from "./sources/source-registry.js";
import { StateReporter } from "./state-reporter.js";
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

export interface RunningAgent {
  readonly config: AgentConfig;
  readonly agentVersion: string;
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
  if (reaped.files + reaped.rows + reapedBundles > 0) {
    log.info("recovered data dir", { mediaFiles: reaped.files, mediaRows: reaped.rows, bundleTemps: reapedBundles });
  }
  outbox.on("mediaFailed", (eventId, err) => log.error("cannot store a finding's frame", { eventId, err }));

  const pipeline = new Pipeline({ id: config.pipeline, deviceId: config.deviceId, outbox, logger: log });
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
  const sources: FrameSource[] = config.sources.map((c) => createSource(c));
  const telemetry = new TelemetryReporter({
    deviceId: config.deviceId,
    intervalMs: config.telemetryIntervalMs,
    pipeline,
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

  publisher.start();
  link.start();
  uploader.start();
  telemetry.start();
  reporter.start();
  for (const source of sources) {
    let lastError = "";
    source.on("frame", (frame) => {
      lastError = "";
      pipeline.handle(frame);
    });
    source.on("error", (err) => {
      // a failing source retries every second; log each distinct failure once, not every retry
      if (err.message === lastError) return;
      lastError = err.message;
      log.warn("source failed", { sourceId: source.id, code: err.code, message: err.message });
    });
    source.on("end", () => log.info("source ended", { sourceId: source.id }));
    source.start();
  }
  reporter.changed();
  log.info("agent started", {
    agentVersion,
    dataDir: config.dataDir,
    mqttUrl: config.mqttUrl,
    hubUrl: config.hubUrl,
    pipeline: config.pipeline,
    bundle: pipeline.loaded?.bundle ?? null,
    sources: sources.map((s) => `${s.type}:${s.id}`),
  });

  const liveStats = (): AgentStats => ({
    ...pipeline.stats(),
    connected: link.connected,
    outboxDepth: outbox.depth(),
    mediaQueueDepth: media.depth(),
    desiredRev: updater.desiredRev,
    invalidDesiredMessages: updater.invalidMessages,
  });
  let finalStats: AgentStats | undefined;
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled(sources.map((s) => s.stop()));
    await pipeline.idle();
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
    await pipeline.swap(null);
    finalStats = { ...liveStats(), connected: false };
    db.close();
    log.info("agent stopped", { outboxDepth: left });
  };

  return {
    config,
    agentVersion,
    stats: () => finalStats ?? liveStats(),
    reported: () => reporter.snapshot(),
    telemetry: () => telemetry.snapshot(),
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}
