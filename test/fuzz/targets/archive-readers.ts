import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { openArchive } from "../../../apps/hub/src/datasets/archive/open-archive.js";
import { rawTar, rawZip } from "../../../apps/hub/test/raw-archives.js";
import { coded, type FuzzTarget, fuzzProperty, isRefusal, timedAsync } from "../harness.js";
import { bytesAfterMagic, mutatedBytes } from "../mutations.js";

/** Safe relative names (no `..`, no leading `/`), up to 3 levels. */
const name = fc
  .array(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_. -]{0,11}$/), { minLength: 1, maxLength: 3 })
  .filter((parts) => parts.every((p) => p !== "." && p !== ".." && !p.endsWith(".") && !p.endsWith(" ")))
  .map((parts) => parts.join("/"));
const files = fc.uniqueArray(fc.record({ path: name, data: fc.uint8Array({ maxLength: 300 }) }), {
  minLength: 1,
  maxLength: 5,
  selector: (f) => f.path.toLowerCase(),
});
type Kind = "zip" | "tar" | "tgz";
const packed = (kind: Kind, fs: Array<{ path: string; data: Uint8Array }>): Uint8Array =>
  kind === "zip"
    ? rawZip(fs)
    : kind === "tar"
      ? rawTar(fs.map((f) => ({ name: f.path, data: f.data })))
      : gzipSync(rawTar(fs.map((f) => ({ name: f.path, data: f.data }))));
const kind = fc.constantFrom<Kind>("zip", "tar", "tgz");
const MAGICS = [
  Uint8Array.of(0x50, 0x4b, 0x03, 0x04),
  Uint8Array.of(0x50, 0x4b, 0x05, 0x06),
  Uint8Array.of(0x1f, 0x8b),
];

let dir: string | null = null;
let n = 0;
/** Archives are read from files by offset, as the hub spools uploads; one temp file per case. */
async function withFile<T>(bytes: Uint8Array, body: (file: string) => Promise<T>): Promise<T> {
  dir ??= mkdtempSync(join(tmpdir(), "kensa-fuzz-archive-"));
  const file = join(dir, `case-${n++}`);
  await writeFile(file, bytes);
  try {
    return await body(file);
  } finally {
    rmSync(file, { force: true });
    rmSync(`${file}.tar`, { force: true });
  }
}

/** Removes the temp folder (the bench and the test call it when done). */
export function cleanupArchiveFiles(): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
}

/**
 * The zip and tar readers (apps/hub/src/datasets/archive) on broken archives: every failure a
 * KensaError, for the archive or for one entry, and a clean archive reads back as written.
 */
export const archiveReadersTarget: FuzzTarget = {
  name: "zip-tar",
  covers: "zip, tar and tar.gz readers (apps/hub/src/datasets/archive)",
  properties: [
    fuzzProperty(
      "any bytes: entries whose reads resolve or fail coded, or a coded refusal",
      { budgetMs: 2_000, weight: 3 },
      (b) =>
        fc.asyncProperty(
          fc.oneof(
            {
              arbitrary: fc.tuple(kind, files).chain(([k, fs]) => mutatedBytes(fc.constant(packed(k, fs)), 4)),
              weight: 4,
            },
            { arbitrary: bytesAfterMagic(MAGICS, 600), weight: 1 },
          ),
          timedAsync(b, async (bytes) => {
            await withFile(bytes, async (file) => {
              const archive = await coded(null, () => openArchive(file));
              if (isRefusal(archive)) return;
              try {
                for (const e of archive.entries) {
                  if (e.problem && !/^KENSA_ERR_[A-Z_]+$/.test(e.problem.code))
                    throw new Error(`uncoded entry problem ${e.problem.code}`);
                  if (e.kind !== "file" || e.problem) continue;
                  const data = await coded(null, () => e.read());
                  if (!isRefusal(data) && data.length !== e.size)
                    throw new Error(`${e.path}: read ${data.length} bytes, header says ${e.size}`);
                }
              } finally {
                await archive.close();
              }
            });
          }),
        ),
    ),
    fuzzProperty("a clean archive reads back exactly as written", { budgetMs: 2_000 }, (b) =>
      fc.asyncProperty(
        kind,
        files,
        timedAsync(b, async (k, fs) => {
          await withFile(packed(k, fs), async (file) => {
            const archive = await openArchive(file);
            try {
              const got = new Map<string, string>();
              for (const e of archive.entries) if (e.kind === "file") got.set(e.path, (await e.read()).toString("hex"));
              for (const f of fs) {
                if (got.get(f.path) !== Buffer.from(f.data).toString("hex"))
                  throw new Error(`${f.path} did not read back`);
              }
              if (got.size !== fs.length) throw new Error(`${got.size} files read, ${fs.length} written`);
            } finally {
              await archive.close();
            }
          });
        }),
      ),
    ),
  ],
};
