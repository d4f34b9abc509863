import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import { KensaError } from "@kensa/contracts";
import { imageKind } from "@kensa/vision";
import { redactUrl } from "./ffmpeg-args.js";
import { FrameSampler } from "./frame-sampler.js";
import { MultipartStreamParser, multipartBoundary } from "./multipart-stream-parser.js";
import type { MjpegSourceConfig } from "./source-config.js";
import { type Connection, StreamingSource } from "./streaming-source.js";

/**
 * Reads an HTTP(S) MJPEG stream (`multipart/x-mixed-replace`) in-process: no ffmpeg, no
 * re-encode, the camera's JPEG bytes go to the pipeline as they are. Credentials in the URL
 * are sent as Basic auth (digest-only cameras need `reader: "ffmpeg"`).
 */
export class MjpegHttpSource extends StreamingSource {
  readonly type = "mjpeg";
  readonly #url: URL;
  readonly #fps: number | undefined;

  constructor(config: MjpegSourceConfig) {
    super(config.id, { stallTimeoutMs: config.stallTimeoutMs, restart: config.restart });
    this.#url = new URL(config.url);
    this.#fps = config.fps;
  }

  protected connect(conn: Connection): Promise<void> {
    const shown = redactUrl(this.#url.href);
    const fail = (message: string) => new KensaError("KENSA_ERR_SOURCE_FAILED", `source ${this.id}: ${message}`);
    const sampler = new FrameSampler({ maxFps: this.#fps });
    let index = 0;
    return new Promise<void>((resolve, reject) => {
      const onResponse = (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          req.destroy();
          return reject(fail(`${shown} answered HTTP ${status} ${res.statusMessage ?? ""}`.trim()));
        }
        const contentType = res.headers["content-type"];
        const boundary = multipartBoundary(contentType);
        if (!boundary) {
          req.destroy();
          return reject(
            fail(
              `${shown} is not an MJPEG stream: expected multipart/x-mixed-replace, got ${contentType ?? "no content type"}`,
            ),
          );
        }
        const parser = new MultipartStreamParser(boundary);
        res.on("data", (chunk: Buffer) => {
          try {
            for (const part of parser.push(chunk)) {
              const type = part.headers["content-type"];
              if (type && !/^image\/jpe?g/i.test(type)) continue;
              if (imageKind(part.body) !== "jpeg") continue;
              if (sampler.accept()) conn.frame(part.body, { index });
              index++;
            }
          } catch (err) {
            req.destroy(fail(`${shown}: ${(err as Error).message}`));
          }
        });
        res.once("end", () => reject(fail(`${shown} ended the stream`)));
        res.once("error", (err) => reject(fail(`${shown}: ${err.message}`)));
      };
      const opts = {
        signal: conn.signal,
        headers: { accept: "multipart/x-mixed-replace, */*", "user-agent": "kensa-agent" },
      };
      const req =
        this.#url.protocol === "https:" ? httpsGet(this.#url, opts, onResponse) : httpGet(this.#url, opts, onResponse);
      req.once("error", (err) => {
        if (conn.signal.aborted) return resolve();
        reject(err instanceof KensaError ? err : fail(`cannot read ${shown}: ${err.message}`));
      });
    });
  }
}
