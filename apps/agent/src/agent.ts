import type { Reported, Telemetry } from "@kensa/contracts";
import { agentVersion } from "./agent-version.js";
import { CaptureBudget } from "./capture/capture-budget.js";
import { CaptureQueue } from "./capture/capture-queue.js";
import { Capturer } from "./capture/capturer.js";
import { ClipRecorder } from "./clips/clip-recorder.js";
import { ClipStore } from "./clips/clip-store.js";
import type { AgentConfig } from "./config.js";
import type { ModelLoader } from "./inference/model.js";
import { onnxModelLoader } from "./inference/onnx-loader.js";
import { Pipeline, type PipelineStats, sumPipelineStats } from "./inference/pipeline.js";
import { Logger } from "./logger.js";
import { recoverDataDir } from "./recover.js";
import { CaptureSwitch } from "./remote-config/capture-switch.js";
import { applyLive } from "./remote-config/live-apply.js";
import type { RemoteConfig } from "./remote-config/remote-config.js";
import { shutDownInSteps } from "./shutdown.js";
import { findFfmpeg, videoSourceTypes } from "./sources/ffmpeg-lookup.js";
import { SourceSet } from "./sources/source-set.js";
import { buildStatusServer, type StatusServer } from "./status/status-server.js";
import { Counter, openAgentDb, StateStore } from "./storage/agent-db.js";
import { dataDirLayout } from "./storage/data-dir.js";
import { MediaQueue } from "./storage/media-queue.js";
import { Outbox } from "./storage/outbox.js";
import { QuotaKeeper } from "./storage/quota-keeper.js";
import type { AgentUpdateHook } from "./updates/agent-release-updater.js";
import { BundleFetcher } from "./updates/bundle-fetcher.js";
import { BundleStore } from "./updates/bundle-store.js";
import { openBundleTrust } from "./updates/bundle-trust-setup.js";
import { UpdaterSet } from "./updates/updater-set.js";
import { readAgentTls, tlsFetch } from "./uplink/agent-tls.js";
import { FrameUploader } from "./uplink/frame-uploader.js";
import { hubCalls } from "./uplink/hub-calls.js";
import { HubUploads } from "./uplink/hub-uploads.js";
import { MqttLink } from "./uplink/mqtt-link.js";
import { OutboxPublisher } from "./uplink/publisher.js";
import { StateReporter } from "./uplink/state-reporter.js";
import { TelemetryReporter } from "./uplink/telemetry.js";

/** ms the shutdown waits for the broker to acknowledge the outbox */
const shutdownFlushMs = 3000;

export interface AgentDeps {
  logger?: Logger;
  /** builds a model from verified bundle bytes; ONNX Runtime through @kensa/vision by default */
  loadModel?: ModelLoader;
  /** 0..1 draws for random captures (tests make them deterministic) */
  random?: () => number;
  /** follows the desired state's `config` (remote-config/agent-host.ts); none: agent.json alone */
  remoteConfig?: RemoteConfig;
  /** installs the desired agent release (updates/agent-release-updater.ts); none: no self-update */
  agentUpdate?: AgentUpdateHook;
}

export interface AgentStats extends PipelineStats {
  connected: boolean;
  outboxDepth: number;
  mediaQueueDepth: number;
  captureQueueDepth: number;
  eventsDropped: number;
  desiredRev: number;
  invalidDesiredMessages: number;
}

export interface RunningAgent {
  readonly config: AgentConfig;
  readonly agentVersion: string;
  /** the local status server's base URL, when it is enabled and bound */
  readonly statusUrl: string | undefined;
  stats(): AgentStats;
  reported(): Reported;
  telemetry(): Telemetry;
  /** Moves the running agent to another config's sources and capture settings (remote config). */
  applyLive(next: AgentConfig): Promise<void>;
  /** Stops sources, finishes the frame in flight, flushes the outbox (≤ 3 s), goes offline. */
  stop(): Promise<void>;
}

/**
 * Starts an agent: the composition root, where the components are built and wired. Recover
 * before serve, warm up before ready: the database and data dir are reaped, the last good
 * bundles are loaded and warmed up from disk, and only then does the agent connect, publish
 * and start its cameras.
 */
export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const log = (deps.logger ?? new Logger()).child({ deviceId: config.deviceId });
  const { deviceId, secret } = config;
  // TLS files are read before anything starts: a wrong path stops the agent with KENSA_ERR_TLS_FILES
  const tls = readAgentTls(config.tls);
  const hubFetch = tls ? tlsFetch(tls) : undefined;

  // storage: the database, the three spools, the bundle store; reaped before anything is written
  const db = openAgentDb(config.dataDir);
  const dirs = dataDirLayout(config.dataDir);
  const media = new MediaQueue(db, dirs.media, { keepUploaded: config.media.keepUploaded });
  const outbox = new Outbox(db, media);
  const captures = new CaptureQueue(db, dirs.captures);
  const clipStore = new ClipStore(db, dirs.clips);
  const bundles = new BundleStore(dirs.bundles);
  const eventsDropped = new Counter(db, "events_dropped");
  const mediaEvicted = new Counter(db, "media_evicted");
  await recoverDataDir({ spools: { media, captures, clips: clipStore }, bundles, runDir: dirs.run, logger: log });
  outbox.on("mediaFailed", (eventId, err) => log.error("cannot store a finding's frame", { eventId, err }));
  const quota = new QuotaKeeper({
    db,
    dataDir: config.dataDir,
    spools: { media, captures, clips: clipStore },
    bundlesDir: dirs.bundles,
    outbox,
    eventsDropped,
    mediaEvicted,
    mediaQuotaBytes: config.media.quotaBytes,
    offlineQuotaBytes: config.offline.quotaBytes,
    minFreeBytes: config.offline.minFreeBytes,
    logger: log,
  });
  // make room before anything is written
  await quota.enforce();

  // inference: one pipeline per id the sources name (the agent's `pipeline` first), each with its updater
  const makeCapturer = (c: AgentConfig["capture"]) =>
    c.enabled
      ? new Capturer({
          policy: { band: c.band, disagreement: c.disagreement, sampleRate: c.sampleRate, ...c.dedupe },
          budget: new CaptureBudget(db, c.dailyBudget),
          queue: captures,
          logger: log,
          ...(deps.random ? { random: deps.random } : {}),
        })
      : undefined;
  // a switch, so a remote config can change the capture settings while frames flow
  const capturer = new CaptureSwitch(makeCapturer(config.capture));
  const pipelineIds = new Set([config.pipeline, ...config.sources.map((s) => s.pipeline ?? config.pipeline)]);
  const makePipeline = (id: string) =>
    new Pipeline({ id, deviceId, outbox, logger: log, queueSize: config.frameQueue, capture: capturer });
  const pipelines = new Map([...pipelineIds].map((id) => [id, makePipeline(id)]));
  // one array shared with telemetry and previews, changed in place when a remote config adds a pipeline
  const pipelineList = [...pipelines.values()];
  // signed bundles: checked against the keys in <dataDir>/trust.json before a model is fetched
  const trust = await openBundleTrust(config, new StateStore(db), log, hubFetch);
  const updaters = new UpdaterSet({
    pipelines: pipelineList,
    primary: config.pipeline,
    store: bundles,
    fetcher: new BundleFetcher({ deviceId, secret, hubUrl: config.hubUrl, store: bundles, fetch: hubFetch, trust }),
    state: new StateStore(db),
    loadModel: deps.loadModel ?? onnxModelLoader(config.intraOpThreads),
    logger: log,
    restartPolicy: config.inferenceRestart,
  });
  await updaters.restore();

  // uplink: events over MQTT, files over HTTP
  const link = new MqttLink({ url: config.mqttUrl, deviceId, secret, agentVersion, logger: log, tls });
  const eventsRejected = new Counter(db, "events_rejected");
  const publisher = new OutboxPublisher(outbox, link, {
    deviceId,
    logger: log,
    hubAckTimeoutMs: config.hubAckTimeoutMs,
    onRejected: (rejected) => eventsRejected.add(rejected.length),
  });
  link.on("desired", (payload) => {
    const desired = updaters.handleDesired(payload);
    // a hub that confirms says so in every desired state; an older one never does
    if (desired) publisher.setMode(desired.eventAcks === "hub" ? "hub" : "broker");
    if (desired) deps.remoteConfig?.offer(desired.config);
    if (desired) deps.agentUpdate?.offer(desired.agent);
  });
  const hub = hubCalls(config.hubUrl, deviceId, secret, hubFetch);
  const uploads = new HubUploads({
    media,
    captures,
    clips: config.media.clips.upload ? clipStore : undefined,
    hub,
    mediaConcurrency: config.mediaUploadConcurrency,
    logger: log,
  });
  // media and clips wait for their event to be confirmed; captures go whenever the hub answers
  outbox.on("flushed", () => uploads.eventsFlushed());
  outbox.on("queued", (event) => {
    if (event.media) quota.schedule();
  });
  captures.on("queued", () => {
    uploads.captureQueued();
    quota.schedule();
  });
  link.on("connect", () => uploads.retryNow());

  // sources, and clips cut from the video ones
  const { ffmpeg, ffmpegPath } = await findFfmpeg(config.sources, config.ffmpegPath, log);
  const sourceSet = new SourceSet({
    configs: config.sources,
    defaultPipeline: config.pipeline,
    sinks: pipelines,
    context: { ffmpegPath, runDir: dirs.run },
    logger: log,
  });
  const videoEntries = sourceSet.entries.filter((e) => videoSourceTypes.has(e.source.type));
  const clips =
    config.media.clips.enabled && videoEntries.length > 0
      ? new ClipRecorder({ store: clipStore, settings: config.media.clips, ffmpegPath, logger: log })
      : undefined;
  if (clips) {
    for (const e of videoEntries) e.source.on("frame", (frame) => clips.observe(frame));
    for (const p of pipelines.values()) p.on("inferred", (event, frame) => clips.inferred(event, frame));
    clips.on("written", () => {
      quota.schedule();
      uploads.clipWritten();
    });
  }

  // status: telemetry and reported state to the hub, previews, the local status server
  const telemetry = new TelemetryReporter({
    deviceId,
    intervalMs: config.telemetryIntervalMs,
    pipelines: pipelineList,
    outbox,
    media,
    link,
    logger: log,
    extra: () => ({
      captureQueueDepth: captures.depth(),
      eventsDropped: eventsDropped.value,
      mediaEvicted: mediaEvicted.value,
    }),
  });
  const reporter = new StateReporter({
    deviceId,
    agentVersion,
    intervalMs: config.reportIntervalMs,
    updates: updaters,
    sources: () => sourceSet.sources,
    config: () => deps.remoteConfig?.reported(),
    link,
    logger: log,
    eventsDropped: () => eventsDropped.value,
    eventsRejected: () => eventsRejected.value,
    agentUpdate: () => deps.agentUpdate?.reported(),
  });
  const previews = new FrameUploader(sourceSet, pipelineList, {
    hub,
    deviceId,
    intervalMs: config.frameUploadIntervalMs,
    logger: log,
  });
  previews.start();
  let status: StatusServer | undefined;
  let statusUrl: string | undefined;
  if (config.status.enabled) {
    status = buildStatusServer({
      deviceId,
      agentVersion,
      dataDir: config.dataDir,
      pipelines,
      sources: sourceSet,
      outboxDepth: () => outbox.depth(),
      mediaQueueDepth: () => media.depth(),
      connected: () => link.connected,
      reportedPipelines: () => updaters.pipelines(),
      captureQueueDepth: () => captures.depth(),
      captureStats: () => capturer.stats(),
      storage: () => ({
        eventsDropped: eventsDropped.value,
        mediaEvicted: mediaEvicted.value,
        mediaBytes: quota.last?.usage.mediaBytes ?? 0,
        mediaQuotaBytes: config.media.quotaBytes,
        offlineQuotaBytes: config.offline.quotaBytes,
      }),
      clips: () => clipStore.list(),
      clipPath: (file) => (clipStore.get(file) ? clipStore.path(file) : undefined),
      ffmpeg,
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
  uploads.start();
  quota.start();
  telemetry.start();
  reporter.start();
  sourceSet.start();
  const configChanged = () => reporter.changed();
  deps.remoteConfig?.on("changed", configChanged);
  reporter.changed();
  deps.agentUpdate?.watch({ connected: () => link.connected, pipelines: () => updaters.pipelines(), fetch: hubFetch });
  log.info("agent started", {
    agentVersion,
    dataDir: config.dataDir,
    mqttUrl: config.mqttUrl,
    hubUrl: config.hubUrl,
    pipeline: config.pipeline,
    bundle: pipelines.get(config.pipeline)?.loaded?.bundle ?? null,
    sources: sourceSet.sources.map((s) => `${s.type}:${s.id}`),
    statusUrl: statusUrl ?? null,
  });

  const liveStats = (): AgentStats => ({
    ...sumPipelineStats(pipelines.values()),
    connected: link.connected,
    outboxDepth: outbox.depth(),
    mediaQueueDepth: media.depth(),
    captureQueueDepth: captures.depth(),
    eventsDropped: eventsDropped.value,
    desiredRev: updaters.desiredRev,
    invalidDesiredMessages: updaters.invalidMessages,
  });
  let finalStats: AgentStats | undefined;
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    let left = 0;
    deps.remoteConfig?.off("changed", configChanged);
    const all = [...pipelines.values()];
    try {
      // inputs first, then what is in flight, then the way out, then the models and the database
      await shutDownInSteps(
        [
          { name: "frame previews", run: () => previews.stop() },
          { name: "status server", run: () => status?.close() },
          { name: "sources", run: () => sourceSet.stop() },
          { name: "frames in flight", run: () => Promise.all(all.map((p) => p.idle())) },
          { name: "clips", run: () => clips?.stop() },
          { name: "updaters", run: () => updaters.stop() },
          { name: "outbox flush", run: async () => (left = await publisher.drain(shutdownFlushMs)) },
          {
            name: "publishers",
            run: () => {
              publisher.stop();
              telemetry.stop();
              reporter.stop();
            },
          },
          { name: "uploads", run: () => uploads.stop() },
          { name: "disk quota", run: () => quota.stop() },
          { name: "mqtt", run: () => link.close() },
          { name: "models", run: () => Promise.all(all.map((p) => Promise.all([p.swap(null), p.setShadow(null)]))) },
          {
            name: "database",
            run: () => {
              finalStats = { ...liveStats(), connected: false };
              db.close();
            },
          },
        ],
        log,
      );
    } finally {
      log.info("agent stopped", { outboxDepth: left });
    }
  };

  let running = config;
  const live = { pipelines, pipelineList, makePipeline, updaters, sources: sourceSet, reporter, capture: capturer };
  return {
    get config() {
      return running;
    },
    applyLive: async (next) => {
      await applyLive({ ...live, makeCapturer, logger: log }, running, next);
      running = next;
    },
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
