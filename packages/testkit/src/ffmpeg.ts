import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { commandWorks, needService } from "./services.js";

/** the npm package whose platform packages carry a static ffmpeg (installed with the agent) */
const FFMPEG_PACKAGE = "@ffmpeg-installer/ffmpeg";

let found: { path: string; from: "system" | "package" } | null | undefined;

/**
 * The ffmpeg tests run, looked up once: `ffmpeg` on PATH, else the static binary of
 * @ffmpeg-installer/ffmpeg from node_modules; null when neither runs.
 */
export function findFfmpeg(): { path: string; from: "system" | "package" } | null {
  if (found !== undefined) return found;
  found = null;
  if (commandWorks("ffmpeg", ["-hide_banner", "-version"])) found = { path: "ffmpeg", from: "system" };
  else {
    try {
      // the package throws (a string) when its platform package is missing
      const { path } = createRequire(import.meta.url)(FFMPEG_PACKAGE) as { path: string };
      if (commandWorks(path, ["-hide_banner", "-version"])) found = { path, from: "package" };
    } catch {
      // not installed: found stays null
    }
  }
  return found;
}

/** Whether the ffmpeg found can encode with `encoder` (e.g. "libx264"). */
export function ffmpegEncodes(encoder: string): boolean {
  const ffmpeg = findFfmpeg();
  if (!ffmpeg) return false;
  const list = execFileSync(ffmpeg.path, ["-hide_banner", "-encoders"], { encoding: "utf8", timeout: 30_000 });
  return new RegExp(`^\\s*\\S+\\s+${encoder}\\s`, "m").test(list);
}

/**
 * The path of an ffmpeg that can encode with every one of `encoders`, or null after printing
 * why the tests that need it skip (throws under KENSA_REQUIRE_ALL=1, like needService).
 */
export function needFfmpeg(...encoders: string[]): string | null {
  const ffmpeg = findFfmpeg();
  const missing = ffmpeg ? encoders.filter((e) => !ffmpegEncodes(e)) : [];
  const name =
    missing.length > 0
      ? `an ffmpeg with ${missing.join(", ")} (${ffmpeg?.path} has not)`
      : `ffmpeg (on PATH or from ${FFMPEG_PACKAGE})`;
  return needService(name, ffmpeg !== null && missing.length === 0) ? null : ffmpeg!.path;
}
