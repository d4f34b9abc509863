import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { KensaError } from "@kensa/contracts";

/** Which ffmpeg the agent runs, and where it came from. */
export interface FfmpegBinary {
  path: string;
  /** `config`: an explicit path or command; `system`: `ffmpeg` on PATH; `package`: the npm package's binary */
  from: "config" | "system" | "package";
  /** as ffmpeg prints it ("5.1.6-0+deb12u1", "N-47683-g0e8eb07980-static") */
  version: string;
  /** the release line (4, 5, 6, …): some options changed meaning between them */
  major: number;
}

/** `ffmpegPath` settings that choose among ffmpegs rather than name one */
export const ffmpegChoices: ReadonlySet<string> = new Set(["auto", "system", "package"]);

/** The npm package whose platform packages carry a static ffmpeg (an optional dependency of the agent). */
export const FFMPEG_PACKAGE = "@ffmpeg-installer/ffmpeg";

/**
 * The release line from `ffmpeg -version` output. Numbered releases say it ("ffmpeg version
 * 5.1.6", "n6.1"); snapshot builds ("N-47683-g0e8eb07980") do not, but their libavformat major
 * does: 58 shipped with ffmpeg 4, 59 with 5, 60 with 6, 61 with 7, 62 with 8.
 */
export function parseFfmpegVersion(output: string): { version: string; major: number } | null {
  const line = /ffmpeg version (\S+)/.exec(output);
  if (!line) return null;
  const version = line[1]!;
  const numbered = /^n?(\d+)\./.exec(version);
  if (numbered) return { version, major: Number(numbered[1]) };
  const lavf = /libavformat\s+(\d+)\./.exec(output);
  return lavf ? { version, major: Number(lavf[1]) - 54 } : null;
}

/** what each path answered, under this process's PATH; only answers are kept, so a probe that failed is asked again */
const answers = new Map<string, { version: string; major: number }>();

/** Runs `<path> -version` (a bare name is looked up on env.PATH); null when it cannot run or does not answer like ffmpeg. */
export async function probeFfmpeg(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ version: string; major: number } | null> {
  const known = env === process.env ? answers.get(path) : undefined;
  if (known) return known;
  const found = await new Promise<{ version: string; major: number } | null>((resolve) => {
    execFile(path, ["-hide_banner", "-version"], { timeout: 10_000, env }, (err, stdout) => {
      resolve(err ? null : parseFfmpegVersion(stdout));
    });
  });
  if (found && env === process.env) answers.set(path, found);
  return found;
}

/** The binary of the optional npm package for this platform, or null when it is not installed. */
export function packagedFfmpegPath(): string | null {
  try {
    // the package throws (a string) when its platform package is missing
    return (createRequire(import.meta.url)(FFMPEG_PACKAGE) as { path: string }).path;
  } catch {
    return null;
  }
}

/**
 * The ffmpeg for `setting`: `auto` (the default) takes `ffmpeg` on PATH and else the npm
 * package's binary; `system` and `package` take only that one; anything else is a path or a
 * command name. Throws KENSA_ERR_FFMPEG_NOT_FOUND, naming what was tried, when none runs.
 */
export async function resolveFfmpeg(
  setting: string,
  opts: { packaged?: () => string | null; env?: NodeJS.ProcessEnv } = {},
): Promise<FfmpegBinary> {
  const packaged = opts.packaged ?? packagedFfmpegPath;
  const candidates: Array<{ path: string | null; from: FfmpegBinary["from"]; label: string }> = [];
  if (setting === "auto" || setting === "system") {
    candidates.push({ path: "ffmpeg", from: "system", label: "ffmpeg on PATH" });
  }
  if (setting === "auto" || setting === "package") {
    candidates.push({ path: packaged(), from: "package", label: `the npm package ${FFMPEG_PACKAGE}` });
  }
  if (candidates.length === 0) candidates.push({ path: setting, from: "config", label: `"${setting}"` });
  for (const c of candidates) {
    if (!c.path) continue;
    const v = await probeFfmpeg(c.path, opts.env);
    if (v) return { path: c.path, from: c.from, ...v };
  }
  throw new KensaError(
    "KENSA_ERR_FFMPEG_NOT_FOUND",
    `no ffmpeg runs (tried ${candidates.map((c) => (c.path ? c.label : `${c.label}: not installed`)).join(", ")}); ` +
      `install ffmpeg (apt install ffmpeg) or the package ${FFMPEG_PACKAGE}, or set ffmpegPath in the agent config`,
    { tried: candidates.map((c) => c.path ?? c.label) },
  );
}
