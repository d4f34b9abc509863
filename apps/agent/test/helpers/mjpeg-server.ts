import { createServer, type ServerResponse } from "node:http";

export interface MjpegServerOptions {
  frames: readonly Buffer[];
  /** frames per second */
  fps: number;
  /** send a Content-Length header per part (most cameras do) */
  contentLength?: boolean;
  /** after this many frames per connection, go silent but keep the connection open (a stalled camera) */
  silentAfter?: number;
  /** answer every request with this status instead of a stream */
  status?: number;
  boundary?: string;
}

export interface MjpegServer {
  readonly url: string;
  /** connections accepted so far */
  readonly connections: number;
  close(): Promise<void>;
}

/** A real MJPEG camera: multipart/x-mixed-replace over node:http, cycling through `frames`. */
export async function startMjpegServer(o: MjpegServerOptions): Promise<MjpegServer> {
  const boundary = o.boundary ?? "kensaframe";
  const timers = new Set<NodeJS.Timeout>();
  const open = new Set<ServerResponse>();
  let connections = 0;
  const server = createServer((req, res) => {
    connections++;
    if (o.status) {
      res.writeHead(o.status, { "www-authenticate": 'Basic realm="cam"' }).end();
      return;
    }
    res.writeHead(200, {
      "content-type": `multipart/x-mixed-replace; boundary=${boundary}`,
      "cache-control": "no-cache",
      connection: "close",
    });
    open.add(res);
    let sent = 0;
    const timer = setInterval(() => {
      if (o.silentAfter !== undefined && sent >= o.silentAfter) return;
      const frame = o.frames[sent % o.frames.length] as Buffer;
      const head =
        `--${boundary}\r\nContent-Type: image/jpeg\r\n` +
        (o.contentLength === false ? "" : `Content-Length: ${frame.length}\r\n`) +
        "\r\n";
      res.write(Buffer.concat([Buffer.from(head), frame, Buffer.from("\r\n")]));
      sent++;
    }, 1000 / o.fps);
    timers.add(timer);
    const done = () => {
      clearInterval(timer);
      timers.delete(timer);
      open.delete(res);
    };
    req.on("close", done);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/video.mjpg`,
    get connections() {
      return connections;
    },
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
