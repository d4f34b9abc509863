import { KensaError } from "@kensa/contracts";
import { type FfmpegSourceConfig, ffmpegArgs, ffmpegMajorVersion, redactUrl } from "./ffmpeg-args.js";
import { runFfmpeg, stderrSummary } from "./ffmpeg-process.js";
import type { SourceContext } from "./frame-source.js";
import { JpegStreamParser } from "./jpeg-stream-parser.js";
import { PidFiles } from "./pid-files.js";
import { type Connection, StreamingSource } from "./streaming-source.js";

/**
 * RTSP cameras, video files and (with `reader: "ffmpeg"`) HTTP MJPEG streams, decoded by the
 * system's ffmpeg in a child process that writes JPEG frames to a pipe. One child per source,
 * supervised: an exit, a crash or a stall restarts it with backoff.
 */
export class FfmpegSource extends StreamingSource {
  readonly type: FfmpegSourceConfig["type"];
  readonly #config: FfmpegSourceConfig;
  readonly #ffmpegPath: string;
  readonly #pidFiles: PidFiles | undefined;
  #pid: number | undefined;

  constructor(config: FfmpegSourceConfig, ctx: SourceContext) {
    super(config.id, { stallTimeoutMs: config.stallTimeoutMs, restart: config.restart });
    this.type = config.type;
    this.#config = config;
    this.#ffmpegPath = ctx.ffmpegPath;
    this.#pidFiles = ctx.runDir ? new PidFiles(ctx.runDir) : undefined;
  }

  /** the running ffmpeg child's pid */
  get pid(): number | undefined {
    return this.#pid;
  }

  protected async connect(conn: Connection): Promise<void> {
    const parser = new JpegStreamParser();
    let index = 0;
    const major = this.#config.type === "rtsp" ? await ffmpegMajorVersion(this.#ffmpegPath) : 5;
    const exit = await runFfmpeg({
      ffmpegPath: this.#ffmpegPath,
      args: ffmpegArgs(this.#config, major),
      signal: conn.signal,
      name: `ffmpeg-${this.id}`,
      ...(this.#pidFiles ? { pidFiles: this.#pidFiles } : {}),
      onSpawn: (pid) => {
        this.#pid = pid;
      },
      onStdout: (chunk) => {
        for (const image of parser.push(chunk)) conn.frame(image, { index: index++ });
      },
    }).finally(() => {
      this.#pid = undefined;
    });
    if (exit.aborted) return;
    const input = this.#config.type === "video" ? this.#config.path : redactUrl(this.#config.url);
    // a file played to its end is done; a camera stream that "ends" has dropped us
    if (exit.code === 0 && this.#config.type === "video" && !this.#config.loop) return;
    const why = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const detail = stderrSummary(redactUrl(exit.stderr));
    throw new KensaError(
      "KENSA_ERR_SOURCE_FAILED",
      `source ${this.id}: ffmpeg ${why} reading ${input}${detail ? `: ${detail}` : exit.code === 0 ? ": the stream ended" : ""}`,
    );
  }
}
