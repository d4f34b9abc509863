import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { BundleManifest } from "@kensa/contracts";
import { fsyncDir, fsyncFile, writeFileAtomic } from "../storage/fs-atomic.js";
import { type ExpectedHashes, verifyManifest, verifyModel } from "./bundle-verify.js";

export interface StoredBundle {
  sha256: string;
  manifestBytes: Uint8Array;
  manifest: BundleManifest;
  /** the verified model file: ONNX Runtime reads it itself, so the weights never enter the JS heap */
  modelPath: string;
}

const shaDir = /^[a-f0-9]{64}$/;

/**
 * Verified bundles on disk, `<dir>/<sha>/{manifest.json,model.onnx}`, plus `current.json`
 * (pipeline id → sha), so a restart runs the last good model without the hub. A bundle
 * directory is built under a `.tmp` name and renamed into place: it is complete or absent.
 * Models are streamed to disk and hashed from disk, never held in memory whole.
 */
export class BundleStore {
  readonly #dir: string;
  /** current.json is read, changed and written back: one change at a time */
  #pointerWrites: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Startup recovery: drops half-written bundle directories and pointer temp files. */
  async reap(): Promise<number> {
    await mkdir(this.#dir, { recursive: true });
    let n = 0;
    for (const name of await readdir(this.#dir)) {
      if (name.endsWith(".tmp")) {
        await rm(join(this.#dir, name), { recursive: true, force: true });
        n++;
      }
    }
    return n;
  }

  has(sha256: string): boolean {
    return shaDir.test(sha256) && existsSync(join(this.#dir, sha256, "model.onnx"));
  }

  /**
   * Stores a bundle whose model `writeModel` streams into the path it is given (and checks);
   * the directory appears under its sha only once the model is written and synced.
   */
  async save(sha256: string, manifestBytes: Uint8Array, writeModel: (path: string) => Promise<void>): Promise<void> {
    if (this.has(sha256)) return;
    const tmp = join(this.#dir, `${sha256}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
    await mkdir(tmp, { recursive: true });
    try {
      await writeSynced(join(tmp, "manifest.json"), manifestBytes);
      const model = join(tmp, "model.onnx");
      await writeModel(model);
      await fsyncFile(model);
      await fsyncDir(tmp);
      await rename(tmp, join(this.#dir, sha256));
      await fsyncDir(this.#dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  modelPath(sha256: string): string {
    return join(this.#dir, sha256, "model.onnx");
  }

  /** Reads and re-verifies a stored bundle; a flipped bit on disk is a hash mismatch, not a crash. */
  async read(expected: ExpectedHashes): Promise<StoredBundle> {
    const dir = join(this.#dir, expected.sha256);
    const manifestBytes = await readFile(join(dir, "manifest.json"));
    const manifest = verifyManifest(expected, manifestBytes);
    const modelPath = join(dir, "model.onnx");
    verifyModel(expected, manifest, await sha256OfFile(modelPath));
    return { sha256: expected.sha256, manifestBytes, manifest, modelPath };
  }

  async current(): Promise<Record<string, string>> {
    try {
      return JSON.parse(await readFile(join(this.#dir, "current.json"), "utf8")) as Record<string, string>;
    } catch {
      return {};
    }
  }

  /** Points `pipeline` at a stored bundle (null: none). Calls run one at a time: each pipeline's updater makes them. */
  setCurrent(pipeline: string, sha256: string | null): Promise<void> {
    const write = async () => {
      const current = await this.current();
      if (sha256) current[pipeline] = sha256;
      else delete current[pipeline];
      await writeFileAtomic(join(this.#dir, "current.json"), JSON.stringify(current));
    };
    const done = this.#pointerWrites.then(write, write);
    this.#pointerWrites = done.catch(() => undefined);
    return done;
  }

  async remove(sha256: string): Promise<void> {
    if (shaDir.test(sha256)) await rm(join(this.#dir, sha256), { recursive: true, force: true });
  }

  /** Deletes bundle directories not in `keep` (the running one and the one before, for rollback). */
  async prune(keep: ReadonlySet<string>): Promise<void> {
    for (const name of await readdir(this.#dir)) {
      if (shaDir.test(name) && !keep.has(name)) await rm(join(this.#dir, name), { recursive: true, force: true });
    }
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function writeSynced(path: string, data: Uint8Array): Promise<void> {
  const fh = await open(path, "w");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
