import { EventEmitter } from "node:events";
import {
  type BundleRef,
  compile,
  Desired,
  isKensaError,
  KensaError,
  type ReportedPipeline,
  sha256Hex,
} from "@kensa/contracts";
import type { StateStore } from "./agent-db.js";
import { basicAuth } from "./basic-auth.js";
import type { BundleStore } from "./bundle-store.js";
import { verifyManifest, verifyModel } from "./bundle-verify.js";
import { downloadBytes } from "./download.js";
import type { Logger } from "./logger.js";
import type { LoadedBundle, ModelLoader } from "./model.js";
import type { Pipeline } from "./pipeline.js";

const checkDesired = compile(Desired);
const appliedRevKey = "desired.appliedRev";

export interface UpdaterOptions {
  deviceId: string;
  secret: string;
  hubUrl: string;
  pipeline: Pipeline;
  store: BundleStore;
  state: StateStore;
  loadModel: ModelLoader;
  logger: Logger;
  /** download tries per file */
  downloadAttempts?: number;
  /** ms before the first download retry */
  downloadRetryBaseMs?: number;
}

export interface UpdaterEvents {
  /** the reported pipeline status or desired rev changed */
  changed: [];
}

/**
 * Applies desired state: download, verify, load, warm up, swap, persist, report. Anything
 * that fails leaves the running model in place and is reported with its code. Desired
 * messages are applied one at a time; a newer one arriving meanwhile supersedes queued ones.
 */
export class Updater extends EventEmitter<UpdaterEvents> {
  readonly #o: UpdaterOptions;
  readonly #log: Logger;
  #status: ReportedPipeline;
  /** the last rev acted on (applied or failed), reported to the hub */
  #rev: number;
  #pending: Desired | undefined;
  #busy: Promise<void> | undefined;
  #invalid = 0;
  readonly #abort = new AbortController();

  constructor(opts: UpdaterOptions) {
    super();
    this.#o = opts;
    this.#log = opts.logger.child({ component: "updater", pipeline: opts.pipeline.id });
    this.#status = { id: opts.pipeline.id, status: "idle", bundle: null };
    this.#rev = opts.state.get<number>(appliedRevKey) ?? -1;
  }

  get desiredRev(): number {
    return this.#rev;
  }

  /** Desired messages that failed validation (counted, never thrown). */
  get invalidMessages(): number {
    return this.#invalid;
  }

  pipelines(): ReportedPipeline[] {
    return [structuredClone(this.#status)];
  }

  /**
   * Startup: runs the bundle `current.json` names, re-verified from disk, so a device whose
   * hub is unreachable still inspects with its last good model.
   */
  async restore(): Promise<void> {
    const sha = (await this.#o.store.current())[this.#o.pipeline.id];
    if (!sha) return;
    try {
      const stored = await this.#o.store.read({ sha256: sha });
      const { loaded, warmupMs } = await this.#load(stored.model, stored.manifest.manifest, {
        sha256: sha,
        modelVersionId: stored.manifest.modelVersionId,
      });
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

  /** Takes a raw desired-state payload; invalid ones are logged and counted. */
  handleDesired(payload: Buffer): void {
    // the link closes after the updater during shutdown, and the database with it
    if (this.#abort.signal.aborted) return;
    let value: unknown;
    try {
      value = JSON.parse(payload.toString("utf8"));
    } catch {
      value = undefined;
    }
    if (!checkDesired.check(value)) {
      this.#invalid++;
      const issues = value === undefined ? [{ path: "/", message: "not JSON" }] : checkDesired.issues(value);
      this.#log.warn("ignoring invalid desired state", { code: "KENSA_ERR_MQTT_PAYLOAD_INVALID", issues });
      return;
    }
    const applied = this.#o.state.get<number>(appliedRevKey) ?? -1;
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
    if (this.#abort.signal.aborted) return;
    this.#rev = desired.rev;
    // a download that failed is retried when the retained desired state is redelivered
    // (reconnect, restart); a tampered or unloadable bundle is final for this rev
    if (!transient) this.#o.state.set(appliedRevKey, desired.rev);
    this.emit("changed");
  }

  /** Returns false when the failure was a download that may succeed later. */
  async #install(ref: BundleRef): Promise<boolean> {
    const previous = this.#o.pipeline.loaded;
    this.#setStatus({ status: "loading" });
    const started = performance.now();
    try {
      const { manifestBytes, modelBytes, manifest } = await this.#fetchVerified(ref);
      const bundle = { sha256: ref.sha256, modelVersionId: manifest.modelVersionId };
      const { loaded, warmupMs } = await this.#load(modelBytes, manifest.manifest, bundle);
      try {
        await this.#o.store.save(ref.sha256, manifestBytes, modelBytes);
      } catch (err) {
        // a full disk must not stop a good model from running; it only cannot survive a restart
        this.#log.error("cannot persist the bundle; it will not survive a restart", { sha256: ref.sha256, err });
      }
      await this.#o.pipeline.swap(loaded);
      if (this.#o.store.has(ref.sha256)) await this.#o.store.setCurrent(this.#o.pipeline.id, ref.sha256);
      const keep = new Set([ref.sha256, ...(previous ? [previous.bundle.sha256] : [])]);
      await this.#o.store.prune(keep).catch(() => undefined);
      this.#setStatus({ status: "loaded", bundle, warmupMs, error: undefined });
      this.#log.info("bundle loaded", { ...bundle, warmupMs, ms: Math.round(performance.now() - started) });
      return true;
    } catch (err) {
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
    }
  }

  async #fetchVerified(ref: BundleRef) {
    // a bundle we ran before (rollback) is already on disk: verify it, skip the network
    if (this.#o.store.has(ref.sha256)) {
      try {
        const stored = await this.#o.store.read(ref);
        return { manifestBytes: stored.manifestBytes, modelBytes: stored.model, manifest: stored.manifest };
      } catch (err) {
        this.#log.warn("stored bundle failed verification; downloading it again", { sha256: ref.sha256, err });
        await this.#o.store.remove(ref.sha256);
      }
    }
    const manifestBytes = await this.#download(ref.url);
    const manifest = verifyManifest(ref, manifestBytes);
    const modelBytes = await this.#download(ref.modelUrl, manifest.model.size);
    verifyModel(ref, manifest, modelBytes);
    this.#log.debug("bundle verified", { sha256: ref.sha256, modelSha256: sha256Hex(modelBytes) });
    return { manifestBytes, modelBytes, manifest };
  }

  #download(url: string, expectedBytes?: number): Promise<Uint8Array> {
    const hub = new URL(this.#o.hubUrl);
    const target = new URL(url, hub);
    // the device secret goes to the hub only, never to a third-party blob store URL
    const sameOrigin = target.origin === hub.origin;
    return downloadBytes(target.href, {
      ...(sameOrigin ? { authorization: basicAuth(this.#o.deviceId, this.#o.secret) } : {}),
      ...(expectedBytes ? { maxBytes: expectedBytes } : {}),
      attempts: this.#o.downloadAttempts ?? 4,
      retryBaseMs: this.#o.downloadRetryBaseMs ?? 500,
      signal: this.#abort.signal,
    });
  }

  async #load(
    modelBytes: Uint8Array,
    manifest: LoadedBundleManifest,
    bundle: LoadedBundle["bundle"],
  ): Promise<{ loaded: LoadedBundle; warmupMs: number }> {
    let model: LoadedBundle["model"] | undefined;
    try {
      model = await this.#o.loadModel(modelBytes, manifest);
      const warmupMs = Math.round((await model.warmup()) * 100) / 100;
      return { loaded: { model, bundle }, warmupMs };
    } catch (err) {
      await model?.close().catch(() => undefined);
      const e = err as Error & { code?: string };
      throw new KensaError(
        "KENSA_ERR_BUNDLE_LOAD_FAILED",
        `model ${bundle.sha256.slice(0, 12)} failed to load or warm up: ${e.code ? `${e.code}: ` : ""}${e.message}`,
      );
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
    for (const k of ["error", "warmupMs"] as const) if (next[k] === undefined) delete next[k];
    this.#status = next;
    this.emit("changed");
  }
}

type LoadedBundleManifest = Parameters<ModelLoader>[1];

function asKensaError(err: unknown): KensaError {
  if (isKensaError(err)) return err;
  return new KensaError("KENSA_ERR_INTERNAL", (err as Error)?.message ?? String(err));
}
