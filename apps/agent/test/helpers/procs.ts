import { readdirSync, readFileSync } from "node:fs";

/**
 * Live (not zombie) processes whose parent is `ppid` and whose command name is `comm` (and,
 * with `arg`, whose command line has that argument: the agent also runs `ffmpeg -version`).
 */
export function childrenOf(ppid: number, comm = "ffmpeg", arg?: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const c = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (c !== comm || Number(fields[1]) !== ppid || fields[0] === "Z") continue;
      if (arg && !readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").includes(arg)) continue;
      out.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Whether `pid` is a running process (a zombie counts as exited: it runs no code any more). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] !== "Z";
  } catch {
    return false;
  }
}

/** Whether `pid` still has a /proc entry at all (zombies included): false once reaped. */
export function exists(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`, "utf8");
    return true;
  } catch {
    return false;
  }
}
