import type { KensaError } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import { FrameSampler } from "./frame-sampler.js";
import type { Frame, FrameSource, Intake, SourceContext, SourceStatus } from "./frame-source.js";
import { RateMeter } from "./rate-meter.js";
import type { SourceConfig } from "./source-config.js";
import { createSource } from "./source-registry.js";

/** What a source's frames go to (a Pipeline). */
export interface FrameSink {
  readonly id: string;
  handle(frame: Frame): void;
  intake(): Intake;
}

export interface SourceStats {
  id: string;
  type: string;
  pipeline: string;
  status: SourceStatus;
  error?: { code: string; message: string };
  /** frames the source produced */
  framesTotal: number;
  /** frames the sampling config kept from the pipeline */
  framesSampledOut: number;
  /** frames per second produced, over the last 5 s */
  fps: number;
  lastFrameAt: string | null;
  restarts: number;
  reconnects: number;
  stalls: number;
}

/** One configured source with its routing, sampling and counters. */
export class SourceEntry {
  readonly source: FrameSource;
  readonly pipelineId: string;
  readonly #sampler: FrameSampler;
  readonly #rate = new RateMeter();
  #latest: Frame | undefined;
  #framesTotal = 0;
  #sampledOut = 0;
  #restarts = 0;
  #reconnects = 0;
  #stalls = 0;

  constructor(source: FrameSource, pipelineId: string, sampler: FrameSampler, sink: FrameSink) {
    this.source = source;
    this.pipelineId = pipelineId;
    this.#sampler = sampler;
    source.on("frame", (frame) => {
      this.#framesTotal++;
      this.#rate.mark();
      this.#latest = frame;
      if (!frame.queue && !this.#sampler.accept()) {
        this.#sampledOut++;
        return;
      }
      sink.handle(frame);
    });
    source.on("restart", () => this.#restarts++);
    source.on("reconnected", () => this.#reconnects++);
    source.on("stalled", () => this.#stalls++);
  }

  /** the last frame the source produced, sampled out or not */
  get latest(): Frame | undefined {
    return this.#latest;
  }

  stats(): SourceStats {
    const s = this.source;
    const error = s.lastError;
    return {
      id: s.id,
      type: s.type,
      pipeline: this.pipelineId,
      status: s.status,
      ...(error ? { error: { code: error.code, message: error.message } } : {}),
      framesTotal: this.#framesTotal,
      framesSampledOut: this.#sampledOut,
      fps: this.#rate.rate(),
      lastFrameAt: this.#latest?.capturedAt.toISOString() ?? null,
      restarts: this.#restarts,
      reconnects: this.#reconnects,
      stalls: this.#stalls,
    };
  }
}

export interface SourceSetOptions {
  configs: readonly SourceConfig[];
  /** the pipeline of sources that name none */
  defaultPipeline: string;
  sinks: ReadonlyMap<string, FrameSink>;
  context: Omit<SourceContext, "intake">;
  logger: Logger;
}

/** The agent's sources, each wired to the pipeline it names, with logging of what happens to them. */
export class SourceSet {
  readonly #o: SourceSetOptions;
  #entries: SourceEntry[];

  constructor(o: SourceSetOptions) {
    this.#o = o;
    this.#entries = o.configs.map((config) => this.#build(config));
  }

  /** the sources now: a remote config adds and removes them while the agent runs */
  get entries(): readonly SourceEntry[] {
    return this.#entries;
  }

  #build(config: SourceConfig): SourceEntry {
    const o = this.#o;
    const pipelineId = config.pipeline ?? o.defaultPipeline;
    const sink = o.sinks.get(pipelineId);
    if (!sink) throw new Error(`source ${config.id} names pipeline "${pipelineId}", which does not exist`);
    const source = createSource(config, { ...o.context, intake: () => sink.intake() });
    const sample = "sample" in config ? config.sample : undefined;
    watch(source, o.logger.child({ sourceId: config.id, sourceType: config.type }));
    return new SourceEntry(source, pipelineId, new FrameSampler(sample ?? {}), sink);
  }

  /** Adds and starts sources (their pipelines must exist in `sinks` by now). */
  add(configs: readonly SourceConfig[]): SourceEntry[] {
    const added = configs.map((c) => this.#build(c));
    this.#entries = [...this.#entries, ...added];
    for (const e of added) e.source.start();
    return added;
  }

  /** Stops and removes sources by id; resolves once they have stopped. */
  async remove(ids: readonly string[]): Promise<SourceEntry[]> {
    const gone = this.#entries.filter((e) => ids.includes(e.source.id));
    this.#entries = this.#entries.filter((e) => !ids.includes(e.source.id));
    await Promise.allSettled(gone.map((e) => e.source.stop()));
    return gone;
  }

  get sources(): FrameSource[] {
    return this.entries.map((e) => e.source);
  }

  get(id: string): SourceEntry | undefined {
    return this.entries.find((e) => e.source.id === id);
  }

  start(): void {
    for (const e of this.entries) e.source.start();
  }

  /** Stops every source; resolves once their child processes have exited. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.entries.map((e) => e.source.stop()));
  }
}

function watch(source: FrameSource, log: Logger): void {
  let lastError = "";
  const describe = (err: KensaError) => ({ code: err.code, message: err.message });
  source.on("frame", () => {
    lastError = "";
  });
  source.on("error", (err) => {
    // a failing source retries; log each distinct failure once, not every retry (stalls log below)
    if (err.message === lastError || err.code === "KENSA_ERR_SOURCE_STALLED") return;
    lastError = err.message;
    log.warn("source failed", describe(err));
  });
  source.on("stalled", (silentMs) => log.warn("source stalled; restarting it", { silentMs }));
  source.on("restart", ({ restarts, delayMs }) => log.debug("source restarting", { restarts, delayMs }));
  source.on("status", (status) => {
    if (status === "failed" && source.lastError) log.error("source gave up fast retries", describe(source.lastError));
  });
  source.on("reconnected", () => log.info("source recovered"));
  source.on("end", () => log.info("source ended"));
}
