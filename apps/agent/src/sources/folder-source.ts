import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { KensaError } from "@kensa/contracts";
import { PacedSource, type Tick } from "./paced-source.js";
import type { FolderSourceConfig } from "./source-config.js";

const imageFile = /\.(jpe?g|png)$/i;

/** Replays a folder of images in name order, looping by default (line-side captures, demos). */
export class FolderSource extends PacedSource {
  readonly type = "folder";
  readonly #path: string;
  readonly #loop: boolean;
  #files: string[] = [];
  #next = 0;

  constructor(config: FolderSourceConfig) {
    super(config.id, config.fps);
    this.#path = config.path;
    this.#loop = config.loop;
  }

  protected async tick(): Promise<Tick> {
    if (this.#next >= this.#files.length) {
      if (this.#files.length > 0 && !this.#loop) return { end: true };
      // re-list on every pass so files added to the folder are picked up
      this.#files = await this.#list();
      this.#next = 0;
    }
    const file = this.#files[this.#next++];
    if (!file) throw new KensaError("KENSA_ERR_SOURCE_FAILED", `folder ${this.#path} holds no .jpg/.jpeg/.png files`);
    try {
      return { frame: { image: await readFile(join(this.#path, file)), meta: { file } } };
    } catch (err) {
      throw new KensaError(
        "KENSA_ERR_SOURCE_FAILED",
        `cannot read ${join(this.#path, file)}: ${(err as Error).message}`,
      );
    }
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
