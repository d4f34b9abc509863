import { createServer, type Server, Socket } from "node:net";

/**
 * A TCP proxy between a site hub and its central hub that a test can cut and restore on the
 * same port: the site sees connections refused, and in-flight ones reset, as on a lost uplink.
 */
export class UplinkProxy {
  #server: Server | null = null;
  #sockets = new Set<Socket>();
  port = 0;
  /** bytes carried so far: `up` from the site to central, `down` from central to the site */
  readonly bytes = { up: 0, down: 0 };

  constructor(readonly targetPort: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new Socket();
      this.#track(client);
      this.#track(upstream);
      upstream.connect(this.targetPort, "127.0.0.1");
      client.on("data", (chunk: Buffer) => {
        this.bytes.up += chunk.length;
      });
      upstream.on("data", (chunk: Buffer) => {
        this.bytes.down += chunk.length;
      });
      client.pipe(upstream).pipe(client);
      const kill = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", kill).on("close", kill);
      upstream.on("error", kill).on("close", kill);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** refuses new connections and resets those open */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #track(s: Socket): void {
    this.#sockets.add(s);
    s.on("close", () => this.#sockets.delete(s));
  }
}
