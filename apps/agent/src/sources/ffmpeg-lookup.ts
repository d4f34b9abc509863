import type { Logger } from "../logger.js";
import { type FfmpegBinary, ffmpegChoices, resolveFfmpeg } from "./ffmpeg-binary.js";
import type { SourceConfig } from "./source-config.js";

/** Source types whose frames are a video stream: they run ffmpeg, and clips around incidents are cut from them. */
export const videoSourceTypes: ReadonlySet<string> = new Set(["rtsp", "video", "mjpeg"]);

export interface FfmpegLookup {
  /** which ffmpeg runs: undefined when no source needs one, null when none was found */
  ffmpeg: FfmpegBinary | null | undefined;
  /** what the video sources and clips spawn */
  ffmpegPath: string;
}

/**
 * Finds the ffmpeg that rtsp and video sources, the ffmpeg MJPEG reader and incident clips
 * run, once at start and only when a source needs one. None found is not fatal: the other
 * sources still run, and these fail with KENSA_ERR_FFMPEG_NOT_FOUND, on the status page too.
 */
export async function findFfmpeg(
  sources: readonly SourceConfig[],
  configured: string,
  log: Logger,
): Promise<FfmpegLookup> {
  if (!sources.some((s) => videoSourceTypes.has(s.type))) return { ffmpeg: undefined, ffmpegPath: configured };
  try {
    const ffmpeg = await resolveFfmpeg(configured);
    log.info("ffmpeg found", { path: ffmpeg.path, from: ffmpeg.from, version: ffmpeg.version });
    return { ffmpeg, ffmpegPath: ffmpeg.path };
  } catch (err) {
    log.error("no ffmpeg: rtsp, video and ffmpeg-read mjpeg sources cannot run", { message: (err as Error).message });
    return { ffmpeg: null, ffmpegPath: ffmpegChoices.has(configured) ? "ffmpeg" : configured };
  }
}
