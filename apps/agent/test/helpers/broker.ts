import { createServer, type Server, type Socket } from "node:net";
import { Aedes, type Client } from "aedes";

export interface TestBroker {
  readonly port: number;
  readonly url: string;
  readonly aedes: Aedes;
  /** payloads of publishes the broker received from clients, per topic, in arrival order */
  readonly received: Array<{ topic: string; clientId: string; payload: Buffer }>;
  /** CONNECTs refused for bad credentials */
  readonly refused: string[];
  /** Cuts one client's TCP connection as a crash or a pulled cable would (the broker fires its will). */
  dropClient(clientId: string): void;
  /** Drops every connection and stops listening; sessions and retained messages survive. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real in-process MQTT broker on an ephemeral port. `credentials` maps username → password;
 * other usernames are refused with CONNACK 4, like the hub's broker.
 */
export async function startBroker(credentials: Record<string, string>): Promise<TestBroker> {
  const refused: string[] = [];
  const aedes = await Aedes.createBroker({
    authenticate: (_client, username, password, done) => {
      const ok = username !== undefined && credentials[username] === password?.toString();
      if (ok) return done(null, true);
      refused.push(username ?? "");
      const err = Object.assign(new Error("bad username or password"), { returnCode: 4 as const });
      done(err, false);
    },
  });
  const sockets = new Set<Socket>();
  const clients = new Map<string, Client>();
  aedes.on("clientReady", (client) => clients.set(client.id, client));
  const received: TestBroker["received"] = [];
  aedes.on("publish", (packet, client) => {
    if (client) received.push({ topic: packet.topic, clientId: client.id, payload: Buffer.from(packet.payload) });
  });
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((socket) => {
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
        aedes.handle(socket);
      });
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  const stop = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    get port() {
      return port;
    },
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    aedes,
    received,
    refused,
    dropClient: (clientId) => clients.get(clientId)?.conn.destroy(),
    stop,
    restart: listen,
    close: async () => {
      await stop();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
