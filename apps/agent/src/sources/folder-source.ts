import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { KensaError } from "@kensa/contracts";
import { isCompleteImage } from "@kensa/vision";
import { PacedSource, type Tick } from "./paced-source.js";
import type { FolderSourceConfig } from "./source-config.js";

const imageFile = /\.(jpe?g|png)$/i;

/** A file that could not be played, remembered by its size and mtime so it is said once. */
interface BadFile {
  version: string;
  /** passes it was skipped on since it was reported */
  skips: number;
}

/** Replays a folder of images in name order, looping by default (line-side captures, demos). */
export class FolderSource extends PacedSource {
  readonly type = "folder";
  readonly #path: string;
  readonly #loop: boolean;
  #files: string[] = [];
  #next = 0;
  /** unreadable or incomplete images: skipped silently until they change (a loop would repeat them every pass) */
  readonly #bad = new Map<string, BadFile>();

  constructor(config: FolderSourceConfig) {
    super(config.id, config.fps);
    this.#path = config.path;
    this.#loop = config.loop;
  }

  /** Files skipped as unreadable or incomplete, with how many passes skipped each since it was reported. */
  get skippedFiles(): Array<{ file: string; skips: number }> {
    return [...this.#bad].map(([file, b]) => ({ file, skips: b.skips }));
  }

  protected async tick(): Promise<Tick> {
    let skipped = 0;
    for (;;) {
      if (this.#next >= this.#files.length) {
        if (this.#files.length > 0 && !this.#loop) return { end: true };
        // re-list on every pass so files added to the folder are picked up
        this.#files = await this.#list();
        this.#next = 0;
        if (this.#files.length === 0) {
          throw new KensaError("KENSA_ERR_SOURCE_FAILED", `folder ${this.#path} holds no .jpg/.jpeg/.png files`);
        }
      }
      // a whole pass skipped: a folder of nothing but bad files waits instead of spinning
      if (skipped >= this.#files.length) return { retryInMs: 1000 };
      const file = this.#files[this.#next++]!;
      const image = await this.#read(file);
      if (image) return { frame: { image, meta: { file } } };
      skipped++;
    }
  }

  /** The file's bytes, or null when it is unreadable or not a complete image (said once per version). */
  async #read(file: string): Promise<Buffer | null> {
    const path = join(this.#path, file);
    let version = "gone";
    let problem: string;
    try {
      const s = await stat(path);
      version = `${s.size}|${s.mtimeMs}`;
      const known = this.#bad.get(file);
      if (known?.version === version) {
        known.skips++;
        return null;
      }
      const bytes = await readFile(path);
      if (isCompleteImage(bytes)) {
        this.#bad.delete(file);
        return bytes;
      }
      problem = `${path} is not a complete JPEG/PNG (${bytes.length} bytes)`;
    } catch (err) {
      problem = `cannot read ${path}: ${(err as Error).message}`;
    }
    this.#bad.set(file, { version, skips: 0 });
    this.#reportOnce(
      new KensaError(
        "KENSA_ERR_MEDIA_INVALID",
        `source ${this.id}: ${problem}; skipping it until it changes (${this.#bad.size} file${this.#bad.size === 1 ? "" : "s"} skipped in this folder)`,
        { file, skipped: this.#bad.size },
      ),
    );
    return null;
  }

  /** EventEmitter throws an "error" nobody listens to; a skipped file must not stop the source. */
  #reportOnce(error: KensaError): void {
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  async #list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.#path);
    } catch (err) {
      throw new KensaError("KENSA_ERR_SOURCE_FAILED", `cannot list folder ${this.#path}: ${(err as Error).message}`);
    }
    return names.filter((n) => imageFile.test(n)).sort();
  }
}
