import { join } from "node:path";
import type { Reported, Telemetry } from "@kensa/contracts";
import { Inferencer } from "@kensa/vision";
import { agentVersion } from "./agent-version.js";
import { CaptureBudget } from "./capture/capture-budget.js";
import { CaptureQueue, type CaptureRow } from "./capture/capture-queue.js";
import { Capturer } from "./capture/capturer.js";
import { ClipRecorder } from "./clips/clip-recorder.js";
import { ClipStore, type ClipUploadRow } from "./clips/clip-store.js";
import type { AgentConfig } from "./config.js";
import type { ModelLoader } from "./inference/model.js";
import { Pipeline, type PipelineStats } from "./inference/pipeline.js";
import { Logger } from "./logger.js";
import { type FfmpegBinary, ffmpegChoices, resolveFfmpeg } from "./sources/ffmpeg-binary.js";
import { PidFiles } from "./sources/pid-files.js";
import { SourceSet } from "./sources/source-set.js";
import { buildStatusServer, type StatusServer } from "./status/status-server.js";
import { Counter, openAgentDb, StateStore } from "./storage/agent-db.js";
import { QuotaKeeper } from "./storage/quota-keeper.js";
import { BundleFetcher } from "./updates/bundle-fetcher.js";
import { BundleStore } from "./updates/bundle-store.js";
import { UpdaterSet } from "./updates/updater-set.js";
import { FrameUploader } from "./uplink/frame-uploader.js";
import { HttpUploader } from "./uplink/http-uploader.js";
import { MediaQueue, type MediaRow } from "./uplink/media-queue.js";
import { MqttLink } from "./uplink/mqtt-link.js";
import { Outbox } from "./uplink/outbox.js";
import { OutboxPublisher } from "./uplink/publisher.js";
import { StateReporter } from "./uplink/state-reporter.js";
import { TelemetryReporter } from "./uplink/telemetry.js";

/** ms the shutdown waits for the broker to acknowledge the outbox */
const shutdownFlushMs = 3000;

/** Source types whose frames are a video stream: clips around incidents are cut from them. */
const videoSourceTypes = new Set(["rtsp", "video", "mjpeg"]);

export interface AgentDeps {
  logger?: Logger;
  /** builds a model from verified bundle bytes; ONNX Runtime through @kensa/vision by default */
  loadModel?: ModelLoader;
  /** 0..1 draws for random captures (tests make them deterministic) */
  random?: () => number;
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
    // one session per model, reused for every frame; intra-op threads = the cores we may use
    ((model, manifest) =>
      Inferencer.create(
        model,
        manifest,
        config.intraOpThreads !== undefined ? { intraOpThreads: config.intraOpThreads } : undefined,
      ));

  const db = openAgentDb(config.dataDir);
  const dirs = {
    media: join(config.dataDir, "media"),
    captures: join(config.dataDir, "captures"),
    clips: join(config.dataDir, "clips"),
    bundles: join(config.dataDir, "bundles"),
  };
  const media = new MediaQueue(db, dirs.media, { keepUploaded: config.media.keepUploaded });
  const outbox = new Outbox(db, media);
  const captures = new CaptureQueue(db, dirs.captures);
  const clipStore = new ClipStore(db, dirs.clips);
  const state = new StateStore(db);
  const eventsDropped = new Counter(db, "events_dropped");
  const mediaEvicted = new Counter(db, "media_evicted");
  const store = new BundleStore(dirs.bundles);
  const reaped = await media.reap();
  const reapedCaptures = await captures.reap();
  const reapedClips = await clipStore.reap();
  const reapedBundles = await store.reap();
  // ffmpeg children a SIGKILLed predecessor could not stop
  const runDir = join(config.dataDir, "run");
  const reapedChildren = await new PidFiles(runDir).reap();
  if (
    reaped.files +
      reaped.rows +
      reapedCaptures.files +
      reapedCaptures.rows +
      reapedClips.files +
      reapedClips.rows +
      reapedBundles +
      reapedChildren >
    0
  ) {
    log.info("recovered data dir", {
      mediaFiles: reaped.files,
      mediaRows: reaped.rows,
      captureFiles: reapedCaptures.files,
      captureRows: reapedCaptures.rows,
      clips: reapedClips.files + reapedClips.rows,
      bundleTemps: reapedBundles,
      orphanChildren: reapedChildren,
    });
  }
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

  const capturer = config.capture.enabled
    ? new Capturer({
        policy: {
          band: config.capture.band,
          disagreement: config.capture.disagreement,
          sampleRate: config.capture.sampleRate,
          maxDistance: config.capture.dedupe.maxDistance,
          last: config.capture.dedupe.last,
        },
        budget: new CaptureBudget(db, config.capture.dailyBudget),
        queue: captures,
        logger: log,
        ...(deps.random ? { random: deps.random } : {}),
      })
    : undefined;

  // one pipeline per id the sources name, the agent's `pipeline` first; each has its updater
  const pipelineIds = new Set([config.pipeline, ...config.sources.map((s) => s.pipeline ?? config.pipeline)]);
  const pipelines = new Map(
    [...pipelineIds].map((id) => [
      id,
      new Pipeline({
        id,
        deviceId: config.deviceId,
        outbox,
        logger: log,
        queueSize: config.frameQueue,
        ...(capturer ? { capture: capturer } : {}),
      }),
    ]),
  );
  const pipeline = pipelines.get(config.pipeline) as Pipeline;
  const updater = new UpdaterSet({
    pipelines: [...pipelines.values()],
    primary: config.pipeline,
    store,
    fetcher: new BundleFetcher({ deviceId: config.deviceId, secret: config.secret, hubUrl: config.hubUrl, store }),
    state,
    loadModel,
    logger: log,
    restartPolicy: config.inferenceRestart,
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
  const hub = config.hubUrl.replace(/\/+$/, "");
  const uploader = new HttpUploader<MediaRow>(media, {
    name: "media",
    url: (row) => `${hub}/api/v1/events/${encodeURIComponent(row.eventId)}/media`,
    deviceId: config.deviceId,
    secret: config.secret,
    concurrency: config.mediaUploadConcurrency,
    logger: log,
  });
  const captureUploader = new HttpUploader<CaptureRow>(captures, {
    name: "capture",
    url: (row) => {
      const q = new URLSearchParams({ reason: row.query.reason, ts: row.query.ts });
      if (row.query.label !== undefined && row.query.score !== undefined) {
        q.set("label", row.query.label);
        q.set("score", String(row.query.score));
      }
      return `${hub}/api/v1/captures/${encodeURIComponent(row.key)}?${q}`;
    },
    deviceId: config.deviceId,
    secret: config.secret,
    concurrency: 1,
    logger: log,
  });
  const clipUploader = config.media.clips.upload
    ? new HttpUploader<ClipUploadRow>(clipStore, {
        name: "clips",
        url: (row) => {
          const q = new URLSearchParams({ durationMs: String(row.durationMs), frames: String(row.frames) });
          return `${hub}/api/v1/events/${encodeURIComponent(row.eventId)}/clip?${q}`;
        },
        deviceId: config.deviceId,
        secret: config.secret,
        concurrency: 1,
        logger: log,
      })
    : undefined;
  // media and clips wait for their event to reach the broker; captures go whenever the hub answers
  outbox.on("flushed", () => {
    uploader.wake();
    clipUploader?.wake();
  });
  captures.on("queued", () => {
    captureUploader.wake();
    quota.schedule();
  });
  outbox.on("queued", (event) => {
    if (event.media) quota.schedule();
  });
  // the broker is back, so the hub most likely is too: do not sit out the upload backoff
  link.on("connect", () => {
    uploader.retryNow();
    captureUploader.retryNow();
    clipUploader?.retryNow();
  });
  // rtsp and video sources, the ffmpeg MJPEG reader and incident clips run ffmpeg: find it once
  let ffmpeg: FfmpegBinary | null | undefined;
  let ffmpegPath = config.ffmpegPath;
  if (config.sources.some((s) => videoSourceTypes.has(s.type))) {
    try {
      ffmpeg = await resolveFfmpeg(config.ffmpegPath);
      ffmpegPath = ffmpeg.path;
      log.info("ffmpeg found", { path: ffmpeg.path, from: ffmpeg.from, version: ffmpeg.version });
    } catch (err) {
      // the other sources still run; these fail with KENSA_ERR_FFMPEG_NOT_FOUND, on the status page too
      ffmpeg = null;
      if (ffmpegChoices.has(ffmpegPath)) ffmpegPath = "ffmpeg";
      log.error("no ffmpeg: rtsp, video and ffmpeg-read mjpeg sources cannot run", { message: (err as Error).message });
    }
  }
  const sourceSet = new SourceSet({
    configs: config.sources,
    defaultPipeline: config.pipeline,
    sinks: pipelines,
    context: { ffmpegPath, runDir },
    logger: log,
  });
  const sources = sourceSet.sources;
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
      clipUploader?.wake();
    });
  }
  const telemetry = new TelemetryReporter({
    deviceId: config.deviceId,
    intervalMs: config.telemetryIntervalMs,
    pipelines: [...pipelines.values()],
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
    deviceId: config.deviceId,
    agentVersion,
    intervalMs: config.reportIntervalMs,
    updates: updater,
    sources,
    link,
    logger: log,
    eventsDropped: () => eventsDropped.value,
  });

  const previews = new FrameUploader(sourceSet, [...pipelines.values()], {
    hubUrl: config.hubUrl,
    deviceId: config.deviceId,
    secret: config.secret,
    intervalMs: config.frameUploadIntervalMs,
    logger: log,
  });
  previews.start();

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
      captureQueueDepth: () => captures.depth(),
      captureStats: () => capturer?.stats(),
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
  uploader.start();
  captureUploader.start();
  clipUploader?.start();
  quota.start();
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
    captureQueueDepth: captures.depth(),
    eventsDropped: eventsDropped.value,
    desiredRev: updater.desiredRev,
    invalidDesiredMessages: updater.invalidMessages,
  });
  let finalStats: AgentStats | undefined;
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    previews.stop();
    await status?.close();
    await sourceSet.stop();
    await Promise.all([...pipelines.values()].map((p) => p.idle()));
    await clips?.stop();
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
    await captureUploader.stop();
    await clipUploader?.stop();
    await quota.stop();
    await link.close();
    await Promise.all([...pipelines.values()].map((p) => Promise.all([p.swap(null), p.setShadow(null)])));
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
