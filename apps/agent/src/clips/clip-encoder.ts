import { spawn } from "node:child_process";
import { KensaError } from "@kensa/contracts";

export type ClipCodec = "h264" | "mjpeg";

const encoders = new Map<string, Promise<boolean>>();

/** Whether this ffmpeg has libx264 (asked once per executable). */
export function hasLibx264(ffmpegPath: string): Promise<boolean> {
  let known = encoders.get(ffmpegPath);
  if (!known) {
    known = new Promise<boolean>((resolve) => {
      const child = spawn(ffmpegPath, ["-hide_banner", "-encoders"], { stdio: ["ignore", "pipe", "ignore"] });
      let out = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString("utf8");
      });
      child.once("error", () => resolve(false));
      child.once("close", () => resolve(/\blibx264\b/.test(out)));
    });
    encoders.set(ffmpegPath, known);
  }
  return known;
}

/** The file extension of a codec's container. */
export function clipExtension(codec: ClipCodec): string {
  return codec === "h264" ? "mp4" : "avi";
}

/**
 * Writes JPEG frames as a video at `fps` through ffmpeg (`-f image2pipe -i -`): H.264 in MP4
 * when libx264 is there (small, plays in browsers), else the JPEGs copied unchanged into an
 * MJPEG AVI (no encoder needed). `path` is the clip store's temp name: the store syncs and
 * renames it once ffmpeg is done, so a crash never leaves half a clip under the final name.
 */
export async function encodeClip(opts: {
  ffmpegPath: string;
  codec: ClipCodec;
  frames: readonly Uint8Array[];
  fps: number;
  path: string;
}): Promise<void> {
  if (opts.frames.length === 0) throw new KensaError("KENSA_ERR_CLIP_FAILED", "no frames to write");
  const output =
    opts.codec === "h264"
      ? [
          "-c:v",
          "libx264",
          "-preset",
          "veryfast",
          "-pix_fmt",
          "yuv420p",
          // yuv420p needs even sizes
          "-vf",
          "scale=trunc(iw/2)*2:trunc(ih/2)*2",
          "-movflags",
          "+faststart",
          "-f",
          "mp4",
        ]
      : ["-c:v", "copy", "-f", "avi"];
  const args = [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "image2pipe",
    "-c:v",
    "mjpeg",
    "-framerate",
    String(Math.round(opts.fps * 1000) / 1000),
    "-i",
    "-",
    ...output,
    opts.path,
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(opts.ffmpegPath, args, { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr = (stderr + c.toString("utf8")).slice(-2000);
    });
    child.once("error", (err) => reject(new KensaError("KENSA_ERR_CLIP_FAILED", `cannot run ffmpeg: ${err.message}`)));
    child.once("close", (code) => {
      if (code === 0) resolve();
      else reject(new KensaError("KENSA_ERR_CLIP_FAILED", `ffmpeg exited ${code}: ${stderr.trim()}`));
    });
    // ffmpeg may die before reading everything; its exit code says why, not EPIPE
    child.stdin.on("error", () => undefined);
    void (async () => {
      for (const f of opts.frames) {
        if (!child.stdin.write(f)) await new Promise((r) => child.stdin.once("drain", r));
      }
      child.stdin.end();
    })();
  });
}
