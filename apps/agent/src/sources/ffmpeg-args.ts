import { probeFfmpeg } from "./ffmpeg-binary.js";
import type { MjpegSourceConfig, RtspSourceConfig, VideoSourceConfig } from "./source-config.js";

export type FfmpegSourceConfig = RtspSourceConfig | VideoSourceConfig | MjpegSourceConfig;

/**
 * The ffmpeg command line for a source: decode the input, optionally resample to `fps`, and
 * write MJPEG frames to stdout (`-f image2pipe -c:v mjpeg -q:v 3`: ~30–60 KB per VGA frame,
 * visually lossless for inspection and cheap to re-decode). Network inputs get an I/O timeout
 * a little under the stall timeout so a dead camera ends the child by itself too.
 */
export function ffmpegArgs(config: FfmpegSourceConfig, ffmpegMajor = 5): string[] {
  const ioTimeoutUs = String(Math.max(1, Math.round(config.stallTimeoutMs * 0.9)) * 1000);
  const input: string[] = [];
  let target: string;
  switch (config.type) {
    case "rtsp":
      // ffmpeg 5 renamed the RTSP socket timeout `-stimeout` to `-timeout`; in 4.x `-timeout`
      // means "listen for an incoming connection", which would turn the client into a server
      input.push("-rtsp_transport", config.transport, ffmpegMajor >= 5 ? "-timeout" : "-stimeout", ioTimeoutUs);
      target = config.url;
      break;
    case "mjpeg":
      input.push("-rw_timeout", ioTimeoutUs);
      target = config.url;
      break;
    case "video":
      if (config.realtime) input.push("-re");
      if (config.loop) input.push("-stream_loop", "-1");
      target = config.path;
      break;
  }
  return [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    ...input,
    ...config.inputArgs,
    "-i",
    target,
    "-map",
    "0:v:0",
    "-an",
    "-sn",
    "-dn",
    ...(config.fps ? ["-vf", `fps=${config.fps}`] : []),
    "-f",
    "image2pipe",
    "-c:v",
    "mjpeg",
    "-q:v",
    "3",
    "pipe:1",
  ];
}

/** Text with the password of every URL in it masked, for logs and errors. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^@/\s]*@/gi, "$1:***@");
}

/**
 * The release line of the ffmpeg at `path`: the agent's start has usually asked already (the
 * answer is kept); 5 when it cannot be told now, asked again next time.
 */
export async function ffmpegMajorVersion(path: string): Promise<number> {
  return (await probeFfmpeg(path))?.major ?? 5;
}
