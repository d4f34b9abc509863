import { EventEmitter } from "node:events";
import {
  type BundleManifest,
  type BundleRef,
  type Desired,
  isKensaError,
  KensaError,
  type ReportedPipeline,
  type SelfTestReport,
} from "@kensa/contracts";
import type { InferenceModel, LoadedBundle, ModelLoader } from "../inference/model.js";
import type { Pipeline } from "../inference/pipeline.js";
import { SupervisedModel } from "../inference/supervised-model.js";
import type { Logger } from "../logger.js";
import type { StateStore } from "../storage/agent-db.js";
import { defaultRestartPolicy, type RestartPolicy, type SupervisorState } from "../supervisor.js";
import type { BundleFetcher, FetchedBundle } from "./bundle-fetcher.js";
import type { BundleStore } from "./bundle-store.js";
import { type GoldenFrameFetcher, runSelfTest, selfTestError } from "./self-test.js";

export interface UpdaterOptions {
  pipeline: Pipeline;
  store: BundleStore;
  fetcher: BundleFetcher;
  state: StateStore;
  /** the state key of the last desired rev this pipeline applied */
  appliedRevKey: string;
  loadModel: ModelLoader;
  logger: Logger;
  /** restart budget of the inference session */
  restartPolicy?: RestartPolicy;
  /** bundles every pipeline still needs (running, rollback, shadow, installing): a prune keeps them */
  inUse?: () => Iterable<string>;
  /** ms: shadow agreement that changed is reported at most this often (default 10 000) */
  agreementReportMs?: number;
}

/** current.json key of a pipeline's shadow model */
const shadowKey = (pipelineId: string) => `${pipelineId}#shadow`;

export interface UpdaterEvents {
  /** the reported pipeline status or desired rev changed */
  changed: [];
}

/**
 * Applies the desired state of one pipeline: download, verify, load, warm up, swap, persist,
 * report. Anything that fails leaves the running model in place and is reported with its
 * code. Desired messages are applied one at a time; a newer one arriving meanwhile supersedes
 * queued ones. UpdaterSet gives every pipeline of the agent one of these.
 */
export class Updater extends EventEmitter<UpdaterEvents> {
  readonly #o: UpdaterOptions;
  readonly #log: Logger;
  #status: ReportedPipeline;
  /** the last rev acted on (applied or failed), reported to the hub */
  #rev: number;
  #pending: Desired | undefined;
  #busy: Promise<void> | undefined;
  /** the bundle being installed, and the one that ran before the current one (for a rollback) */
  #installing: string | undefined;
  #rollback: string | undefined;
  readonly #abort = new AbortController();
  #agreementTimer: NodeJS.Timeout | undefined;
  #agreementReportedAt = 0;
  readonly #onAgreement = () => this.#agreementChanged();

  constructor(opts: UpdaterOptions) {
    super();
    this.#o = opts;
    this.#log = opts.logger.child({ component: "updater", pipeline: opts.pipeline.id });
    this.#status = { id: opts.pipeline.id, status: "idle", bundle: null };
    this.#rev = opts.state.get<number>(opts.appliedRevKey) ?? -1;
    opts.pipeline.on("agreement", this.#onAgreement);
  }

  /** Agreement changes every frame: reported at most every `agreementReportMs`, sooner than the periodic report. */
  #agreementChanged(): void {
    if (this.#agreementTimer || this.#abort.signal.aborted) return;
    const wait = Math.max(0, this.#agreementReportedAt + (this.#o.agreementReportMs ?? 10_000) - Date.now());
    this.#agreementTimer = setTimeout(() => {
      this.#agreementTimer = undefined;
      this.#agreementReportedAt = Date.now();
      this.emit("changed");
    }, wait);
    this.#agreementTimer.unref();
  }

  get desiredRev(): number {
    return this.#rev;
  }

  /** The pipeline as reported to the hub. */
  reported(): ReportedPipeline {
    const reported = structuredClone(this.#status);
    const agreement = this.#o.pipeline.shadowAgreement();
    return agreement ? { ...reported, shadowAgreement: agreement } : reported;
  }

  /** Bundles this pipeline needs on disk: running, rollback, shadow, and the one being installed. */
  bundlesInUse(): string[] {
    const p = this.#o.pipeline;
    return [p.loaded?.bundle.sha256, this.#rollback, p.shadow?.bundle.sha256, this.#installing].filter(
      (sha): sha is string => sha !== undefined,
    );
  }

  /**
   * Startup: runs the bundle `current.json` names, re-verified from disk, so a device whose
   * hub is unreachable still inspects with its last good model.
   */
  async restore(): Promise<void> {
    const current = await this.#o.store.current();
    const sha = current[this.#o.pipeline.id];
    const shadowSha = current[shadowKey(this.#o.pipeline.id)];
    if (shadowSha) await this.#restoreShadow(shadowSha);
    if (!sha) return;
    try {
      const stored = await this.#o.store.read({ sha256: sha });
      const { loaded, warmupMs } = await this.#load(
        stored.modelPath,
        stored.manifest.manifest,
        { sha256: sha, modelVersionId: stored.manifest.modelVersionId },
        { stored: true },
      );
      await this.#o.pipeline.swap(loaded);
      this.#setStatus({ status: "loaded", bundle: loaded.bundle, warmupMs });
      this.#log.info("restored bundle from disk", { sha256: sha, warmupMs });
    } catch (err) {
      const e = asKensaError(err);
      this.#setStatus({
        status: "error",
        bundle: null,
        error: { code: e.code, message: e.message, bundleSha256: sha },
      });
      this.#log.error("cannot restore the last bundle", { sha256: sha, code: e.code, err: e });
    }
  }

  async #restoreShadow(sha: string): Promise<void> {
    try {
      const stored = await this.#o.store.read({ sha256: sha });
      const model = await this.#o.loadModel(stored.modelPath, stored.manifest.manifest);
      await model.warmup();
      const bundle = { sha256: sha, modelVersionId: stored.manifest.modelVersionId };
      await this.#o.pipeline.setShadow({ model, bundle, manifest: stored.manifest.manifest });
      this.#setStatus({ shadow: bundle });
    } catch (err) {
      this.#log.error("cannot restore the shadow model", { sha256: sha, err });
    }
  }

  /** Takes a validated desired state; one already applied (or queued) is ignored. */
  offer(value: Desired): void {
    // the link closes after the updater during shutdown, and the database with it
    if (this.#abort.signal.aborted) return;
    const applied = this.#o.state.get<number>(this.#o.appliedRevKey) ?? -1;
    if (value.rev <= applied || value.rev <= (this.#pending?.rev ?? -1)) {
      this.#log.debug("ignoring desired state already applied", { rev: value.rev, applied });
      return;
    }
    this.#pending = value;
    this.#busy ??= this.#drain().finally(() => {
      this.#busy = undefined;
    });
  }

  /** Resolves when no desired state is being applied. */
  async idle(): Promise<void> {
    while (this.#busy) await this.#busy;
  }

  /** Aborts downloads in progress and waits for the apply loop to settle. */
  async stop(): Promise<void> {
    this.#pending = undefined;
    this.#abort.abort();
    clearTimeout(this.#agreementTimer);
    this.#agreementTimer = undefined;
    this.#o.pipeline.off("agreement", this.#onAgreement);
    await this.idle();
  }

  async #drain(): Promise<void> {
    while (this.#pending && !this.#abort.signal.aborted) {
      const desired = this.#pending;
      this.#pending = undefined;
      await this.#apply(desired);
    }
  }

  async #apply(desired: Desired): Promise<void> {
    const entry = desired.pipelines.find((p) => p.id === this.#o.pipeline.id);
    const ref = entry?.bundle ?? null;
    let transient = false;
    if (!ref) {
      await this.#unload();
    } else if (this.#o.pipeline.loaded?.bundle.sha256 === ref.sha256) {
      this.#setStatus({ status: "loaded", bundle: { ...this.#o.pipeline.loaded.bundle }, error: undefined });
    } else {
      transient = !(await this.#install(ref));
    }
    if (!this.#abort.signal.aborted) await this.#applyShadow(entry?.shadow ?? null);
    if (this.#abort.signal.aborted) return;
    this.#rev = desired.rev;
    // a download that failed is retried when the retained desired state is redelivered
    // (reconnect, restart); a tampered or unloadable bundle is final for this rev
    if (!transient) this.#o.state.set(this.#o.appliedRevKey, desired.rev);
    this.emit("changed");
  }

  /** Returns false when the failure was a download that may succeed later. */
  async #install(ref: BundleRef): Promise<boolean> {
    const previous = this.#o.pipeline.loaded;
    this.#setStatus({ status: "loading" });
    const started = performance.now();
    let fetched: FetchedBundle | undefined;
    this.#installing = ref.sha256;
    try {
      const use = { pipeline: this.#o.pipeline.id, role: "bundle" } as const;
      fetched = await this.#o.fetcher.fetch(ref, this.#abort.signal, this.#log, use);
      const { model, manifest } = fetched;
      const bundle = { sha256: ref.sha256, modelVersionId: manifest.modelVersionId };
      // restarts re-read (and re-verify) the stored copy; only an unstored model stays in memory
      const restartFrom: RestartSource = typeof model === "string" ? { stored: true } : { bytes: model };
      const { loaded, warmupMs } = await this.#load(model, manifest.manifest, bundle, restartFrom);
      // a model that loads but computes something else on this device never goes live
      await this.#selfTest(loaded, ref, manifest);
      await this.#o.pipeline.swap(loaded);
      // its sequence is now the pipeline's floor: nothing older is taken without a grant
      this.#o.fetcher.accepted(fetched);
      if (this.#o.store.has(ref.sha256)) await this.#o.store.setCurrent(this.#o.pipeline.id, ref.sha256);
      this.#rollback = previous?.bundle.sha256;
      this.#installing = undefined;
      // the running bundle, the one before it (rollback), the shadow, and those of the other pipelines
      const keep = new Set([...this.bundlesInUse(), ...(this.#o.inUse?.() ?? [])]);
      await this.#o.store.prune(keep).catch(() => undefined);
      this.#setStatus({ status: "loaded", bundle, warmupMs, error: undefined, session: undefined });
      this.#log.info("bundle loaded", { ...bundle, warmupMs, ms: Math.round(performance.now() - started) });
      return true;
    } catch (err) {
      // a bundle stored by this attempt but not running is not kept for a rollback
      if (fetched?.downloaded && this.#o.pipeline.loaded?.bundle.sha256 !== ref.sha256)
        await this.#o.store.remove(ref.sha256).catch(() => undefined);
      const e = asKensaError(err);
      const running = this.#o.pipeline.loaded;
      this.#setStatus({
        status: running ? "loaded" : "error",
        bundle: running ? { ...running.bundle } : null,
        error: { code: e.code, message: e.message, bundleSha256: ref.sha256 },
      });
      this.#log.error("bundle update failed; keeping the running model", {
        sha256: ref.sha256,
        code: e.code,
        message: e.message,
        running: running?.bundle.sha256 ?? null,
      });
      return e.code !== "KENSA_ERR_BUNDLE_DOWNLOAD_FAILED";
    } finally {
      this.#installing = undefined;
    }
  }

  /**
   * Loads and warms up a bundle's model, then puts it under supervision: a session that fails
   * at run time is replaced by one built from `restartFrom` (the verified stored bundle, or
   * the bytes while it could not be stored).
   */
  async #load(
    modelSource: Uint8Array | string,
    manifest: LoadedBundleManifest,
    bundle: LoadedBundle["bundle"],
    restartFrom: RestartSource,
  ): Promise<{ loaded: LoadedBundle; warmupMs: number }> {
    let model: InferenceModel | undefined;
    try {
      model = await this.#o.loadModel(modelSource, manifest);
      const warmupMs = Math.round((await model.warmup()) * 100) / 100;
      const reload = async (): Promise<InferenceModel> => {
        if (restartFrom.bytes) return this.#o.loadModel(restartFrom.bytes, manifest);
        const stored = await this.#o.store.read({ sha256: bundle.sha256 });
        return this.#o.loadModel(stored.modelPath, manifest);
      };
      const supervised = new SupervisedModel(model, reload, this.#o.restartPolicy ?? defaultRestartPolicy, this.#log);
      supervised.on("state", (state, error) => this.#onSession(supervised, state, error));
      return { loaded: { model: supervised, bundle, manifest }, warmupMs };
    } catch (err) {
      await model?.close().catch(() => undefined);
      const e = err as Error & { code?: string };
      throw new KensaError(
        "KENSA_ERR_BUNDLE_LOAD_FAILED",
        `model ${bundle.sha256.slice(0, 12)} failed to load or warm up: ${e.code ? `${e.code}: ` : ""}${e.message}`,
      );
    }
  }

  /**
   * The golden-set self-test between load and swap (self-test.ts): reported whatever its result;
   * a failure closes the new model and throws KENSA_ERR_BUNDLE_SELF_TEST_FAILED, so the running
   * one stays. Restores from disk skip it: a stored bundle passed before it became current.
   */
  async #selfTest(loaded: LoadedBundle, ref: BundleRef, bundle: BundleManifest): Promise<void> {
    let report: SelfTestReport;
    try {
      const fetchFrame: GoldenFrameFetcher = (f, signal) => this.#o.fetcher.fetchFile(ref, f, signal);
      report = await runSelfTest(loaded.model, ref.sha256, bundle, fetchFrame, this.#abort.signal);
    } catch (err) {
      await loaded.model.close().catch(() => undefined);
      throw err;
    }
    this.#setStatus({ selfTest: report });
    const { status, figures, note } = report;
    if (status !== "failed") {
      this.#log.info("golden-frame self-test", { sha256: ref.sha256, status, ...figures, ...(note ? { note } : {}) });
      return;
    }
    await loaded.model.close().catch(() => undefined);
    throw selfTestError(report);
  }

  #onSession(model: SupervisedModel, state: SupervisorState, error: KensaError | undefined): void {
    if (this.#o.pipeline.loaded?.model !== model || state === "stopped") return;
    if (state === "running" && model.restarts === 0) return;
    this.#setStatus({
      session: {
        state,
        restarts: model.restarts,
        ...(error ? { error: { code: error.code, message: error.message } } : {}),
      },
    });
  }

  /** Loads, replaces or removes the pipeline's shadow model; a failure only costs the shadow. */
  async #applyShadow(ref: BundleRef | null): Promise<void> {
    const pipeline = this.#o.pipeline;
    const current = pipeline.shadow;
    if (!ref) {
      if (!current) return;
      await pipeline.setShadow(null);
      await this.#o.store.setCurrent(shadowKey(pipeline.id), null);
      this.#setStatus({ shadow: undefined });
      return;
    }
    if (current?.bundle.sha256 === ref.sha256) return;
    this.#installing = ref.sha256;
    try {
      const use = { pipeline: pipeline.id, role: "shadow" } as const;
      const { model: source, manifest } = await this.#o.fetcher.fetch(ref, this.#abort.signal, this.#log, use);
      const model = await this.#o.loadModel(source, manifest.manifest);
      try {
        await model.warmup();
      } catch (err) {
        await model.close().catch(() => undefined);
        throw err;
      }
      const bundle = { sha256: ref.sha256, modelVersionId: manifest.modelVersionId };
      await pipeline.setShadow({ model, bundle, manifest: manifest.manifest });
      if (this.#o.store.has(ref.sha256)) await this.#o.store.setCurrent(shadowKey(pipeline.id), ref.sha256);
      this.#setStatus({ shadow: bundle });
      this.#log.info("shadow model loaded", bundle);
    } catch (err) {
      const e = asKensaError(err);
      this.#log.error("shadow model not loaded; keeping the previous one", {
        sha256: ref.sha256,
        code: e.code,
        err: e,
      });
    } finally {
      this.#installing = undefined;
    }
  }

  async #unload(): Promise<void> {
    if (this.#o.pipeline.loaded) this.#log.info("desired state has no bundle; unloading the model");
    await this.#o.pipeline.swap(null);
    await this.#o.store.setCurrent(this.#o.pipeline.id, null);
    this.#setStatus({ status: "idle", bundle: null, error: undefined, warmupMs: undefined });
  }

  #setStatus(patch: Partial<ReportedPipeline>): void {
    const next: ReportedPipeline = { ...this.#status, ...patch };
    for (const k of ["error", "warmupMs", "session", "shadow"] as const) if (next[k] === undefined) delete next[k];
    this.#status = next;
    this.emit("changed");
  }
}

type LoadedBundleManifest = Parameters<ModelLoader>[1];

/** Where a restarted session's model comes from: bytes held in memory, or the verified store. */
interface RestartSource {
  bytes?: Uint8Array | undefined;
  stored?: boolean;
}

function asKensaError(err: unknown): KensaError {
  if (isKensaError(err)) return err;
  return new KensaError("KENSA_ERR_INTERNAL", (err as Error)?.message ?? String(err));
}
