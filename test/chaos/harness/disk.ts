import { open, rm, statfs } from "node:fs/promises";
import { join } from "node:path";

const FILLER = "chaos-filler";

/** Writes a file into `dir` until fewer than `leaveBytes` are free on its file system. */
export async function fillDisk(dir: string, leaveBytes: number): Promise<void> {
  const s = await statfs(dir);
  const free = s.bavail * s.bsize;
  const size = Math.max(0, free - leaveBytes);
  const fh = await open(join(dir, FILLER), "w");
  try {
    const chunk = Buffer.alloc(1024 * 1024, 1);
    let left = size;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      try {
        await fh.write(chunk, 0, n);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
        throw err;
      }
      left -= n;
    }
  } finally {
    await fh.close();
  }
}

export async function freeDisk(dir: string): Promise<void> {
  await rm(join(dir, FILLER), { force: true });
}
