import { authHeaders } from "@kensa/client";
import { type BundleManifest, type BundleRef, sha256Hex } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { BundleStore } from "./bundle-store.js";
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
}

/** A verified bundle; `downloaded` when this fetch stored it (not a rollback to a kept one). */
export interface FetchedBundle {
  manifest: BundleManifest;
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

  constructor(opts: BundleFetcherOptions) {
    this.#o = opts;
  }

  /**
   * The verified bundle: its model as the path of the stored file, streamed there from the hub;
   * only when the store cannot take it (full or failing disk) as bytes in memory, so a good
   * model still runs — it just cannot survive a restart. `signal` aborts downloads; `log` is
   * the asking updater's.
   */
  async fetch(ref: BundleRef, signal: AbortSignal, log: Logger): Promise<FetchedBundle> {
    const running = this.#inFlight.get(ref.sha256);
    // the first asker owns what it stored (it removes the bundle again if it cannot run it)
    if (running) return { ...(await running), downloaded: false };
    const fetching = this.#fetch(ref, signal, log).finally(() => this.#inFlight.delete(ref.sha256));
    this.#inFlight.set(ref.sha256, fetching);
    return fetching;
  }

  async #fetch(ref: BundleRef, signal: AbortSignal, log: Logger): Promise<FetchedBundle> {
    const { store } = this.#o;
    // a bundle we ran before (rollback) is already on disk: verify it, skip the network
    if (store.has(ref.sha256)) {
      try {
        const stored = await store.read(ref);
        return { manifest: stored.manifest, model: stored.modelPath, downloaded: false };
      } catch (err) {
        log.warn("stored bundle failed verification; downloading it again", { sha256: ref.sha256, err });
        await store.remove(ref.sha256);
      }
    }
    const manifestBytes = await this.#download(ref.url, signal);
    const manifest = verifyManifest(ref, manifestBytes);
    try {
      await store.save(ref.sha256, manifestBytes, async (path) => {
        const url = this.#target(ref.modelUrl);
        const { sha256 } = await downloadToFile(url, path, this.#options(url, signal, manifest.model.size));
        verifyModel(ref, manifest, sha256);
      });
      log.debug("bundle verified and stored", { sha256: ref.sha256, modelSha256: manifest.model.sha256 });
      return { manifest, model: store.modelPath(ref.sha256), downloaded: true };
    } catch (err) {
      if (!isFsError(err)) throw err;
      log.error("cannot persist the bundle; it will not survive a restart", { sha256: ref.sha256, err });
    }
    const modelBytes = await this.#download(ref.modelUrl, signal, manifest.model.size);
    verifyModel(ref, manifest, sha256Hex(modelBytes));
    return { manifest, model: modelBytes, downloaded: false };
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
