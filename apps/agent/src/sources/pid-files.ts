import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

interface PidRecord {
  pid: number;
  /** /proc/<pid>/stat starttime (clock ticks since boot): tells our child from a recycled pid */
  start: string | null;
  comm: string;
}

/** The starttime and command name of a live process (Linux /proc), or undefined when it is gone. */
export function processIdentity(pid: number): { start: string; comm: string; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may itself contain spaces or parentheses
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    return { comm: stat.slice(open + 1, close), state: fields[0] ?? "?", start: fields[19] ?? "" };
  } catch {
    return undefined;
  }
}

/**
 * Pid files of the child processes the agent runs (`<runDir>/<name>.pid`). A SIGKILLed agent
 * cannot stop its children; the next start reads the files and kills those that are still
 * the same process (same starttime), so a restart never leaves two ffmpeg per camera.
 */
export class PidFiles {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async record(name: string, pid: number): Promise<void> {
    // libuv returns from spawn only after exec, so this is already the child's own identity
    const id = processIdentity(pid);
    const record: PidRecord = { pid, start: id?.start ?? null, comm: id?.comm ?? "" };
    await mkdir(this.#dir, { recursive: true });
    await writeFile(join(this.#dir, `${name}.pid`), JSON.stringify(record));
  }

  /** Removes the file if it still names `pid` (a newer child may have replaced it). */
  async remove(name: string, pid: number): Promise<void> {
    const path = join(this.#dir, `${name}.pid`);
    try {
      const record = JSON.parse(await readFile(path, "utf8")) as PidRecord;
      if (record.pid === pid) await rm(path, { force: true });
    } catch {
      // already gone
    }
  }

  /** Startup recovery: SIGKILLs recorded children that outlived their agent; returns how many. */
  async reap(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch {
      return 0;
    }
    let killed = 0;
    for (const name of names.filter((n) => n.endsWith(".pid"))) {
      const path = join(this.#dir, name);
      try {
        const record = JSON.parse(await readFile(path, "utf8")) as PidRecord;
        const live = processIdentity(record.pid);
        // without /proc we cannot prove the pid was not recycled, so we leave it alone
        if (live && record.start !== null && live.start === record.start && live.comm === record.comm) {
          process.kill(record.pid, "SIGKILL");
          killed++;
        }
      } catch {
        // unreadable record or the process vanished meanwhile
      }
      await rm(path, { force: true });
    }
    return killed;
  }
}
