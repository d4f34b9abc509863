import { EventEmitter } from "node:events";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { KensaError } from "@kensa/contracts";
import { isCompleteImage } from "@kensa/vision";
import type { FrameOutcome, FrameSource, FrameSourceEvents, SourceContext, SourceStatus } from "./frame-source.js";
import type { FolderWatchSourceConfig } from "./source-config.js";

const imageFile = /^[^.].*\.(jpe?g|png)$/i;

interface Candidate {
  size: number;
  mtimeMs: number;
  /** performance.now() when size and mtime were last seen to change */
  since: number;
  /** reported as incomplete once already */
  reported?: boolean;
}

/**
 * Watches a folder a line camera or a PLC writes images into and hands each new image to the
 * pipeline once, oldest first. A file is read only after its size and mtime held still for
 * `settleMs` and its bytes end like a complete JPEG/PNG, so a file still being written is never
 * read half; writers that can should still write `name.jpg.tmp` and rename it into place.
 * With `after: "move"` (default) a file moves to `done/` only once its event is in the outbox,
 * so a crash re-reads it rather than losing it; `keep` remembers processed files in memory only.
 * Polling rather than fs.watch: inotify misses writes on network shares, where such folders live.
 */
export class FolderWatchSource extends EventEmitter<FrameSourceEvents> implements FrameSource {
  readonly id: string;
  readonly type = "folder-watch";
  readonly #c: FolderWatchSourceConfig;
  readonly #ctx: SourceContext;
  readonly #doneDir: string;
  readonly #candidates = new Map<string, Candidate>();
  /** handed to the pipeline, not yet settled */
  readonly #inflight = new Set<string>();
  /** `after: "keep"`: name|size|mtime of processed files */
  readonly #kept = new Set<string>();
  #status: SourceStatus = "idle";
  #lastError: KensaError | undefined;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(config: FolderWatchSourceConfig, ctx: SourceContext) {
    super();
    this.id = config.id;
    this.#c = config;
    this.#ctx = ctx;
    this.#doneDir = resolve(config.path, config.doneDir);
  }

  get status(): SourceStatus {
    return this.#status;
  }

  get lastError(): KensaError | undefined {
    return this.#lastError;
  }

  start(): void {
    if (this.#loop) return;
    this.#abort = new AbortController();
    this.#set("running");
    this.#loop = this.#run(this.#abort.signal);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    this.#loop = undefined;
    this.#set("stopped");
  }

  #set(status: SourceStatus, error?: KensaError): void {
    this.#lastError = error;
    if (status === this.#status) return;
    this.#status = status;
    this.emit("status", status);
  }

  #fail(error: KensaError): void {
    const repeated = this.#status === "error" && this.#lastError?.message === error.message;
    this.#set("error", error);
    if (!repeated) this.#report(error);
  }

  /** EventEmitter throws an "error" nobody listens to; a source must not die of that. */
  #report(error: KensaError): void {
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        if (this.#c.after === "move") await mkdir(this.#doneDir, { recursive: true });
        await this.#scan(signal);
        if (this.#status === "error") this.#set("running");
      } catch (err) {
        this.#fail(
          err instanceof KensaError
            ? err
            : new KensaError("KENSA_ERR_SOURCE_FAILED", `source ${this.id}: ${(err as Error).message}`),
        );
      }
      await sleep(this.#c.pollMs, undefined, { signal }).catch(() => undefined);
    }
  }

  async #scan(signal: AbortSignal): Promise<void> {
    let entries: Array<{ name: string; size: number; mtimeMs: number }>;
    try {
      const names = (await readdir(this.#c.path)).filter((n) => imageFile.test(n));
      const stats = await Promise.all(
        names.map(async (name) => {
          const s = await stat(join(this.#c.path, name)).catch(() => undefined);
          return s?.isFile() ? { name, size: s.size, mtimeMs: s.mtimeMs } : undefined;
        }),
      );
      entries = stats.filter((e) => e !== undefined);
    } catch (err) {
      throw new KensaError("KENSA_ERR_SOURCE_FAILED", `cannot list folder ${this.#c.path}: ${(err as Error).message}`);
    }
    const present = new Set(entries.map((e) => e.name));
    for (const name of this.#candidates.keys()) if (!present.has(name)) this.#candidates.delete(name);
    entries.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const now = performance.now();
    for (const e of entries) {
      if (signal.aborted) return;
      if (this.#inflight.has(e.name)) continue;
      const keptKey = `${e.name}|${e.size}|${e.mtimeMs}`;
      if (this.#kept.has(keptKey)) continue;
      const seen = this.#candidates.get(e.name);
      if (!seen || seen.size !== e.size || seen.mtimeMs !== e.mtimeMs) {
        this.#candidates.set(e.name, { size: e.size, mtimeMs: e.mtimeMs, since: now });
        continue;
      }
      if (now - seen.since < this.#c.settleMs) continue;
      // keep the order: when the pipeline cannot take a frame, later files wait too
      if (this.#ctx.intake() !== "ready") return;
      const path = join(this.#c.path, e.name);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch {
        continue; // renamed or deleted under us
      }
      if (bytes.length !== e.size || !isCompleteImage(bytes)) {
        // still being written, or a writer that died half-way: wait, and say so once
        if (!seen.reported && now - seen.since > Math.max(10_000, this.#c.settleMs * 10)) {
          seen.reported = true;
          this.#report(
            new KensaError(
              "KENSA_ERR_MEDIA_INVALID",
              `source ${this.id}: ${path} has not been a complete JPEG/PNG for ${Math.round((now - seen.since) / 1000)} s; skipping it until it changes`,
            ),
          );
        }
        continue;
      }
      this.#candidates.delete(e.name);
      this.#inflight.add(e.name);
      this.emit("frame", {
        sourceId: this.id,
        capturedAt: new Date(e.mtimeMs),
        image: bytes,
        meta: { file: e.name },
        queue: true,
        onSettled: (outcome) => this.#settled(e.name, keptKey, outcome),
      });
    }
  }

  #settled(name: string, keptKey: string, outcome: FrameOutcome): void {
    if (outcome === "dropped" || outcome === "skipped") {
      // never inferred (no model yet, queue full): leave the file for the next scan
      this.#inflight.delete(name);
      return;
    }
    const path = join(this.#c.path, name);
    const done =
      this.#c.after === "move"
        ? rename(path, join(this.#doneDir, name))
        : this.#c.after === "delete"
          ? rm(path, { force: true })
          : Promise.resolve(void this.#kept.add(keptKey));
    done
      .catch((err: Error) => {
        // remember it anyway: re-reading a file we cannot move would repeat its event every scan
        this.#kept.add(keptKey);
        this.#report(
          new KensaError(
            "KENSA_ERR_SOURCE_FAILED",
            `source ${this.id}: cannot ${this.#c.after} ${path}: ${err.message}`,
          ),
        );
      })
      .finally(() => this.#inflight.delete(name));
  }
}
