import { EventEmitter } from "node:events";
import { type Event, fitFrameMeta, type InferenceResult, newEventId, type RuleHit } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import { RuleRunner } from "../rules/rule-runner.js";
import type { Frame, FrameOutcome, Intake } from "../sources/frame-source.js";
import type { Outbox } from "../storage/outbox.js";
import type { InferenceOutput, LoadedBundle } from "./model.js";
import { ShadowAgreementCounter } from "./shadow-agreement.js";

export interface PipelineStats {
  /** frames that reached the pipeline */
  framesTotal: number;
  /** frames turned into events */
  framesInferred: number;
  /** frames that arrived while two were already being decoded and inferred */
  framesDropped: number;
  /** frames that arrived while no model was loaded (or its session was restarting) */
  framesSkipped: number;
  /** frames the model could not process (undecodable image, runtime error) */
  framesFailed: number;
  /** queued frames (push, folder-watch) waiting for inference now */
  queueDepth: number;
}

/** Sums the counters of several pipelines (the agent's totals). */
export function sumPipelineStats(pipelines: Iterable<Pipeline>): PipelineStats {
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

/** A frame that may be kept for learning, offered to the capture sink before its event is stored. */
export interface CaptureCandidate {
  eventId: string;
  pipelineId: string;
  sourceId: string;
  capturedAt: Date;
  image: Uint8Array;
  result: InferenceResult;
  /** the shadow model's result on the same frame, when the pipeline runs one */
  shadow?: InferenceResult;
}

/** Decides whether a frame is kept for learning and queues it for upload (capture/capturer.ts). */
export interface CaptureSink {
  /** whether the shadow model's opinion counts for captures (the shadow runs anyway, for its agreement) */
  readonly wantsShadow?: boolean;
  consider(candidate: CaptureCandidate): Promise<{ id: string; reason: string } | undefined>;
}

export interface PipelineEvents {
  inferred: [event: Event, frame: Frame];
  /** the shadow agreement counted one more frame (or restarted for a new pair) */
  agreement: [];
}

export interface PipelineOptions {
  id: string;
  deviceId: string;
  outbox: Outbox;
  logger: Logger;
  /** frames marked `queue` that may wait while two are in flight; default 16 */
  queueSize?: number;
  capture?: CaptureSink;
}

/** Frames in the pipeline at once: one being inferred, the next one being decoded. */
const maxInFlight = 2;

/**
 * Frames in, events out. Decoding and inference are pipelined: frame i+1 is decoded (sharp,
 * libuv's pool) while frame i is inferred (ONNX Runtime's threads), and events are stored in
 * frame order. Real time: a camera frame arriving while two are in flight is dropped rather
 * than queued, so latency never grows with backlog. Frames marked `queue` (one per part:
 * push, folder-watch) wait in a small bounded FIFO instead, and their sources hold back while
 * `intake()` is not "ready". After inference the bundle's rules run (state per source and
 * rule); with rules, a hit is what makes a finding. The model is swapped atomically between
 * frames and the old one is closed only after its last inference.
 */
export class Pipeline extends EventEmitter<PipelineEvents> {
  readonly id: string;
  readonly #deviceId: string;
  readonly #outbox: Outbox;
  readonly #log: Logger;
  readonly #queueSize: number;
  readonly #capture: CaptureSink | undefined;
  readonly #queue: Frame[] = [];
  readonly #rules = new RuleRunner();
  readonly #agreement = new ShadowAgreementCounter();
  #loaded: LoadedBundle | null = null;
  #shadow: LoadedBundle | null = null;
  #inFlight = 0;
  #prepareTail: Promise<unknown> = Promise.resolve();
  #runTail: Promise<void> = Promise.resolve();
  readonly #stats: Omit<PipelineStats, "queueDepth"> = {
    framesTotal: 0,
    framesInferred: 0,
    framesDropped: 0,
    framesSkipped: 0,
    framesFailed: 0,
  };

  constructor(opts: PipelineOptions) {
    super();
    this.id = opts.id;
    this.#deviceId = opts.deviceId;
    this.#outbox = opts.outbox;
    this.#log = opts.logger.child({ component: "pipeline", pipeline: opts.id });
    this.#queueSize = opts.queueSize ?? 16;
    this.#capture = opts.capture;
  }

  get loaded(): LoadedBundle | null {
    return this.#loaded;
  }

  get shadow(): LoadedBundle | null {
    return this.#shadow;
  }

  /** The shadow's agreement with the bundle, for the last pair that ran (docs/agent.md, "Shadow mode"). */
  shadowAgreement(): ReturnType<ShadowAgreementCounter["report"]> {
    return this.#agreement.report();
  }

  stats(): PipelineStats {
    return { ...this.#stats, queueDepth: this.#queue.length };
  }

  /** Whether a queued frame would be taken now. */
  intake(): Intake {
    if (!this.#usable()) return "unloaded";
    return this.#inFlight >= maxInFlight && this.#queue.length >= this.#queueSize ? "saturated" : "ready";
  }

  #usable(): LoadedBundle | null {
    const l = this.#loaded;
    return l && l.model.ready !== false ? l : null;
  }

  handle(frame: Frame): void {
    this.#stats.framesTotal++;
    const loaded = this.#usable();
    if (!loaded) {
      this.#skip(frame);
      return;
    }
    if (this.#inFlight >= maxInFlight) {
      if (frame.queue && this.#queue.length < this.#queueSize) {
        this.#queue.push(frame);
        return;
      }
      this.#stats.framesDropped++;
      settle(frame, "dropped");
      return;
    }
    this.#admit(frame, loaded);
  }

  #skip(frame: Frame): void {
    this.#stats.framesSkipped++;
    settle(frame, "skipped");
  }

  #admit(frame: Frame, loaded: LoadedBundle): void {
    this.#inFlight++;
    const model = loaded.model;
    // decoding runs one frame ahead of inference; each stage keeps frame order
    const prepared = this.#prepareTail.then(() =>
      model.prepare && model.run ? model.prepare(frame.image) : frame.image,
    );
    this.#prepareTail = prepared.catch(() => undefined);
    const job = this.#runTail.then(() => this.#finish(frame, loaded, prepared));
    this.#runTail = job;
    void job.finally(() => {
      this.#inFlight--;
      const next = this.#queue.shift();
      if (!next) return;
      const usable = this.#usable();
      if (usable) this.#admit(next, usable);
      else for (const f of [next, ...this.#queue.splice(0)]) this.#skip(f);
    });
  }

  /** Resolves when no frame is in flight (their events are stored). */
  async idle(): Promise<void> {
    while (this.#inFlight > 0) await this.#runTail;
  }

  /** Installs `next` (or nothing) and closes the previous model once it is no longer in use. */
  async swap(next: LoadedBundle | null): Promise<void> {
    const previous = this.#loaded;
    this.#loaded = next;
    this.#rules.setRules(next?.manifest.rules ?? []);
    if (!previous || previous === next) return;
    await this.idle();
    await previous.model.close().catch((err: unknown) => this.#log.warn("closing the previous model failed", { err }));
  }

  /** Installs a shadow model (run beside the bundle, for disagreement captures), or removes it. */
  async setShadow(next: LoadedBundle | null): Promise<void> {
    const previous = this.#shadow;
    this.#shadow = next;
    if (!previous || previous === next) return;
    await this.idle();
    await previous.model.close().catch((err: unknown) => this.#log.warn("closing the shadow model failed", { err }));
  }

  async #finish(frame: Frame, loaded: LoadedBundle, prepared: Promise<unknown>): Promise<void> {
    try {
      const model = loaded.model;
      const input = await prepared;
      const out: InferenceOutput = model.prepare && model.run ? await model.run(input) : await model.infer(frame.image);
      const rules = loaded.manifest.rules ?? [];
      let hits: RuleHit[] | undefined;
      let result = out.result;
      if (rules.length > 0) {
        hits = this.#rules.evaluate(
          frame.sourceId,
          { result, frame: out.frame, labels: loaded.manifest.labels, okLabels: loaded.manifest.okLabels },
          frame.capturedAt.getTime(),
        );
        // with rules, the bundle's verdict is theirs: a hit is a finding, a threshold alone is not
        result = { ...result, finding: hits.length > 0 } as InferenceResult;
      }
      const eventId = newEventId();
      // the shadow's result only feeds captures and the agreement counters, never the event
      const shadow = await this.#shadowResult(frame);
      const capture = this.#capture
        ? await this.#capture
            .consider({
              eventId,
              pipelineId: this.id,
              sourceId: frame.sourceId,
              capturedAt: frame.capturedAt,
              image: frame.image,
              result,
              ...(shadow ? { shadow: shadow.result } : {}),
            })
            .catch((err: unknown) => {
              this.#log.warn("capture failed", { sourceId: frame.sourceId, err });
              return undefined;
            })
        : undefined;
      if (shadow) {
        // model against model: the bundle's result before its rules, as the shadow runs none
        const pair = { bundle: loaded.bundle, shadow: shadow.bundle };
        this.#agreement.record(pair, out.result, shadow.result, capture?.reason === "disagreement");
        this.emit("agreement");
      }
      // an event the hub would refuse for its meta is never published: the meta is cut to fit
      const meta = fitFrameMeta(frame.meta);
      if (meta.trimmed.length > 0) {
        this.#log.warn("frame meta over the hub's budget: trimmed", {
          code: "KENSA_ERR_EVENT_TOO_LARGE",
          sourceId: frame.sourceId,
          keys: meta.trimmed,
        });
      }
      const event = await this.#outbox.append(
        {
          deviceId: this.#deviceId,
          pipeline: this.id,
          sourceId: frame.sourceId,
          ts: frame.capturedAt.toISOString(),
          bundle: { ...loaded.bundle },
          frame: { width: out.frame.width, height: out.frame.height, meta: meta.meta },
          result,
          latencyMs: out.latencyMs,
          ...(hits ? { rules: hits } : {}),
          ...(capture ? { capture } : {}),
          ...(out.input ? { input: out.input } : {}),
        },
        result.finding ? frame.image : undefined,
        { id: eventId },
      );
      this.#stats.framesInferred++;
      settle(frame, "stored");
      this.emit("inferred", event, frame);
    } catch (err) {
      this.#stats.framesFailed++;
      settle(frame, "failed");
      this.#log.warn("frame failed", { sourceId: frame.sourceId, meta: frame.meta, err });
    }
  }

  /** The shadow model's result on the frame, with its bundle; a failing shadow never costs the main event. */
  async #shadowResult(frame: Frame): Promise<{ result: InferenceResult; bundle: LoadedBundle["bundle"] } | undefined> {
    const shadow = this.#shadow;
    if (!shadow || shadow.model.ready === false) return undefined;
    try {
      return { result: (await shadow.model.infer(frame.image)).result, bundle: shadow.bundle };
    } catch (err) {
      this.#log.debug("shadow inference failed", { err });
      return undefined;
    }
  }
}

function settle(frame: Frame, outcome: FrameOutcome): void {
  try {
    frame.onSettled?.(outcome);
  } catch {
    // a source's bookkeeping must not fail the pipeline
  }
}
