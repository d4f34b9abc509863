import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { authHeaders } from "@kensa/client";
import { type BundleManifest, type BundleRef, fleetRoutes, KensaError, routePath, sha256Hex } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { BundleTrust, BundleUse, TrustDecision } from "./bundle-signature.js";
import type { BundleStore, StoredBundle } from "./bundle-store.js";
import { verifyManifest, verifyModel } from "./bundle-verify.js";
import { type DownloadOptions, downloadBytes, downloadToFile, isFsError } from "./download.js";

export interface BundleFetcherOptions {
  deviceId: string;
  secret: string;
  /** bundle URLs are resolved against it; the device secret goes to this origin only */
  hubUrl: string;
  store: BundleStore;
  /** download tries per file */
  downloadAttempts?: number;
  /** ms before the first download retry */
  downloadRetryBaseMs?: number;
  /** the fetch downloads go through (one that trusts the configured CA); the global fetch by default */
  fetch?: typeof fetch;
  /** signature and rollback checks, run on the manifest before any byte of the model is fetched */
  trust?: BundleTrust;
  /**
   * where interrupted model downloads are kept to be resumed (`<sha256>.part`); `downloads`
   * beside the bundle store's directory (`<dataDir>/downloads`) by default
   */
  partialDir?: string;
  /** [0, 1): picks the moment within a rollout's spread window (Math.random by default) */
  random?: () => number;
}

/** A fetch for the running model of the agent's own pipeline, when the caller names none. */
const primaryUse: BundleUse = { pipeline: "default", role: "bundle" };

/** A verified bundle; `downloaded` when this fetch stored it (not a rollback to a kept one). */
export interface FetchedBundle {
  manifest: BundleManifest;
  /** the manifest exactly as hashed and signed */
  manifestBytes: Uint8Array;
  /** what the signature check decided (with a trust policy): recorded once the bundle runs */
  trusted?: TrustDecision;
  /** the stored model's path, or its bytes when the store could not take it */
  model: Uint8Array | string;
  downloaded: boolean;
}

/**
 * Gets a bundle the desired state names, verified against its hashes: from the bundle store
 * when it is already there (a rollback), else streamed from the hub into the store. Shared by
 * the updaters of every pipeline.
 */
export class BundleFetcher {
  readonly #o: BundleFetcherOptions;
  /** fetches in progress by bundle sha: two pipelines given one bundle download it once */
  readonly #inFlight = new Map<string, Promise<FetchedBundle>>();
  /**
   * model sha256 → its download in progress: their partial files are not stale, and two
   * bundles pinning one model (two pipelines) never write its partial file at once
   */
  readonly #downloading = new Map<string, Promise<void>>();
  readonly #partialDir: string;

  constructor(opts: BundleFetcherOptions) {
    this.#o = opts;
    // beside the bundle store, on the same file system: a finished model is renamed, not copied
    const storeDir = dirname(dirname(opts.store.modelPath("0".repeat(64))));
    this.#partialDir = opts.partialDir ?? join(dirname(storeDir), "downloads");
  }

  /**
   * The verified bundle: its model as the path of the stored file, streamed there from the hub;
   * only when the store cannot take it (full or failing disk) as bytes in memory, so a good
   * model still runs — it just cannot survive a restart. `signal` aborts downloads; `log` is
   * the asking updater's.
   */
  async fetch(ref: BundleRef, signal: AbortSignal, log: Logger, use: BundleUse = primaryUse): Promise<FetchedBundle> {
    const running = this.#inFlight.get(ref.sha256);
    // the first asker owns what it stored (it removes the bundle again if it cannot run it)
    if (running) {
      const got = await running;
      return { ...got, downloaded: false, ...(await this.#trusted(use, ref, got.manifestBytes, got.manifest)) };
    }
    const fetching = this.#fetch(ref, signal, log, use).finally(() => this.#inFlight.delete(ref.sha256));
    this.#inFlight.set(ref.sha256, fetching);
    return fetching;
  }

  /** Records a bundle that now runs with the trust policy (its sequence becomes the pipeline's floor). */
  accepted(fetched: FetchedBundle): void {
    if (fetched.trusted) this.#o.trust?.accepted(fetched.trusted);
  }

  async #trusted(use: BundleUse, ref: BundleRef, bytes: Uint8Array, manifest: BundleManifest) {
    return this.#o.trust ? { trusted: await this.#o.trust.check(use, ref, bytes, manifest) } : {};
  }

  async #fetch(ref: BundleRef, signal: AbortSignal, log: Logger, use: BundleUse): Promise<FetchedBundle> {
    const { store } = this.#o;
    // a bundle we ran before (rollback) is already on disk: verify it, skip the network
    if (store.has(ref.sha256)) {
      let stored: StoredBundle | undefined;
      try {
        stored = await store.read(ref);
      } catch (err) {
        log.warn("stored bundle failed verification; downloading it again", { sha256: ref.sha256, err });
        await store.remove(ref.sha256);
      }
      // a kept bundle is checked like a new one: an old desired state replayed cannot roll back
      if (stored) {
        const { manifest, manifestBytes, modelPath } = stored;
        const trusted = await this.#trusted(use, ref, manifestBytes, manifest);
        return { manifest, manifestBytes, model: modelPath, downloaded: false, ...trusted };
      }
    }
    await this.#spread(ref, signal, log);
    const manifestBytes = await this.#download(ref.url, signal);
    const manifest = verifyManifest(ref, manifestBytes);
    // signed and not a rollback, before a byte of the model is fetched
    const trusted = await this.#trusted(use, ref, manifestBytes, manifest);
    try {
      await store.save(ref.sha256, manifestBytes, (path) => this.#downloadModel(ref, manifest, path, signal));
      log.debug("bundle verified and stored", { sha256: ref.sha256, modelSha256: manifest.model.sha256 });
      return { manifest, manifestBytes, model: store.modelPath(ref.sha256), downloaded: true, ...trusted };
    } catch (err) {
      if (!isFsError(err)) throw err;
      log.error("cannot persist the bundle; it will not survive a restart", { sha256: ref.sha256, err });
    }
    const modelBytes = await this.#download(ref.modelUrl, signal, manifest.model.size);
    verifyModel(ref, manifest, sha256Hex(modelBytes));
    return { manifest, manifestBytes, model: modelBytes, downloaded: false, ...trusted };
  }

  /**
   * A rollout to many devices spreads its start: the hub names a window (`spreadMs`, wider the
   * more devices it published to) and each device starts at a random moment within it. Only a
   * bundle that has to be downloaded waits; a stored one (a rollback) is used at once.
   */
  async #spread(ref: BundleRef, signal: AbortSignal, log: Logger): Promise<void> {
    const window = ref.spreadMs ?? 0;
    if (window <= 0) return;
    const ms = Math.floor((this.#o.random ?? Math.random)() * window);
    log.debug("waiting for this device's moment in the rollout", { sha256: ref.sha256, ms, spreadMs: window });
    await sleep(ms, undefined, { signal });
  }

  /**
   * Streams the model into a partial file kept across tries, fetches and restarts (resumed
   * with Range), verifies the whole file, then moves it to `path` in the bundle being stored.
   * A file that does not verify is deleted: its bytes are never resumed from.
   */
  async #downloadModel(ref: BundleRef, manifest: BundleManifest, path: string, signal: AbortSignal): Promise<void> {
    const modelSha = manifest.model.sha256;
    const before = this.#downloading.get(modelSha) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(() => this.#downloadModelNow(ref, manifest, path, signal));
    const tracked = mine.catch(() => undefined);
    this.#downloading.set(modelSha, tracked);
    try {
      await mine;
    } finally {
      if (this.#downloading.get(modelSha) === tracked) this.#downloading.delete(modelSha);
    }
  }

  async #downloadModelNow(ref: BundleRef, manifest: BundleManifest, path: string, signal: AbortSignal): Promise<void> {
    const partial = join(this.#partialDir, `${manifest.model.sha256}.part`);
    await mkdir(this.#partialDir, { recursive: true });
    await this.#dropStalePartials();
    const url = this.#target(ref.modelUrl);
    const options = { ...this.#options(url, signal, manifest.model.size), resume: true };
    const { sha256 } = await downloadToFile(url, partial, options);
    try {
      verifyModel(ref, manifest, sha256);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    await rename(partial, path);
  }

  /** Partial downloads of models no longer wanted (a newer rollout superseded them). */
  async #dropStalePartials(): Promise<void> {
    for (const name of await readdir(this.#partialDir).catch(() => [] as string[])) {
      const sha = /^([a-f0-9]{64})\.part(\.etag)?$/.exec(name)?.[1];
      if (!sha || !this.#downloading.has(sha)) await rm(join(this.#partialDir, name), { force: true });
    }
  }

  /**
   * A file a verified bundle pins besides its model (a golden frame), fetched from the hub's blob
   * route beside the bundle's URL with the device's credentials and checked against its sha256
   * (KENSA_ERR_BUNDLE_HASH_MISMATCH, KENSA_ERR_BUNDLE_DOWNLOAD_FAILED). Held in memory: a few small images.
   */
  async fetchFile(ref: BundleRef, file: { sha256: string; size: number }, signal: AbortSignal): Promise<Uint8Array> {
    const url = new URL(routePath(fleetRoutes.getBlob.path, { sha: file.sha256 }), this.#target(ref.url)).href;
    const bytes = await downloadBytes(url, this.#options(url, signal, file.size));
    const got = sha256Hex(bytes);
    if (got !== file.sha256) {
      throw new KensaError("KENSA_ERR_BUNDLE_HASH_MISMATCH", `bundle file sha256 is ${got}, expected ${file.sha256}`);
    }
    return bytes;
  }

  #download(url: string, signal: AbortSignal, expectedBytes?: number): Promise<Uint8Array> {
    const target = this.#target(url);
    return downloadBytes(target, this.#options(target, signal, expectedBytes));
  }

  #target(url: string): string {
    return new URL(url, new URL(this.#o.hubUrl)).href;
  }

  /** the device's credentials, as the typed client sends them */
  #deviceAuth(): { authorization?: string } {
    const { headers } = authHeaders({ kind: "device", deviceId: this.#o.deviceId, secret: this.#o.secret }, "GET");
    return headers.authorization ? { authorization: headers.authorization } : {};
  }

  /** `target` is an absolute URL (#target) */
  #options(target: string, signal: AbortSignal, expectedBytes?: number): DownloadOptions {
    // the device secret goes to the hub only, never to a third-party blob store URL
    const sameOrigin = new URL(target).origin === new URL(this.#o.hubUrl).origin;
    return {
      ...(sameOrigin ? this.#deviceAuth() : {}),
      ...(expectedBytes ? { maxBytes: expectedBytes } : {}),
      attempts: this.#o.downloadAttempts ?? 4,
      retryBaseMs: this.#o.downloadRetryBaseMs ?? 500,
      ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}),
      signal,
    };
  }
}
