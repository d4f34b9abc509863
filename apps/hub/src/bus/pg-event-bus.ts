import { createHash, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import pg from "pg";
import type { Logger } from "../logger.js";
import { SerialQueue } from "../serial-queue.js";
import type { EventBus, Listener } from "./event-bus.js";
import { InProcessEventBus } from "./in-process-event-bus.js";

/**
 * bytes; PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. Larger messages are
 * stored in `bus_payloads` and the notification carries the row's id.
 */
const MAX_INLINE_BYTES = 7_900;
/** ms a stored payload is kept for replicas to read; a replica that reads later has lost the stream anyway */
const PAYLOAD_TTL_MS = 5 * 60_000;
/** ms between reconnect attempts at first; doubled up to MAX_RECONNECT_MS */
const RECONNECT_MS = 500;
const MAX_RECONNECT_MS = 15_000;

/** The subset of a `pg.Client` the listener uses. */
export interface ListenClient {
  connect(): Promise<unknown>;
  query(text: string): Promise<unknown>;
  on(event: "notification", fn: (msg: { channel: string; payload?: string | undefined }) => void): unknown;
  on(event: "error", fn: (err: Error) => void): unknown;
  on(event: "end", fn: () => void): unknown;
  end(): Promise<void>;
}

/** The subset of a `pg.Pool` publishing uses (NOTIFY, stored payloads). */
export interface NotifyPool {
  query(text: string, values: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
}

export interface PgEventBusOptions<M> {
  /** a new, unconnected client for LISTEN (one at a time; another after a lost connection) */
  listenClient: () => ListenClient;
  pool: NotifyPool;
  /** the metadata schema: replicas of one hub share it, and so their channel */
  schema: string;
  /**
   * Types every replica hears (live views). Every other type is heard only on the replica that
   * published it: it asks for work that must be done once (e.g. making bundles anew).
   */
  fanOut: readonly (keyof M & string)[];
  log: Logger;
}

export type PgEventBusEvents = {
  /** LISTEN is in place (first connect and after each reconnect) */
  listening: [];
  /** the listening connection was lost; messages published meanwhile by other replicas are not heard */
  lost: [err: Error];
};

interface Wire {
  /** the publishing replica */
  o: string;
  t: string;
  /** the payload, or `r`: the id of its `bus_payloads` row */
  p?: unknown;
  r?: string;
}

/**
 * An EventBus across hub replicas over PostgreSQL LISTEN/NOTIFY. Listeners on the publishing
 * replica run at once (as in-process); fan-out types also reach the listeners of every other
 * replica on the same schema, in publish order per replica. Delivery to other replicas is at
 * most once: while a replica's listening connection is down it misses what others publish
 * (live views reconnect and reload; nothing durable goes through the bus).
 */
export class PgEventBus<M> extends EventEmitter<PgEventBusEvents> implements EventBus<M> {
  /** this replica, so it skips its own notifications (its listeners already ran) */
  readonly origin = randomBytes(8).toString("hex");
  readonly channel: string;
  #o: PgEventBusOptions<M>;
  #local: InProcessEventBus<M>;
  #fanOut: Set<string>;
  #outgoing = new SerialQueue();
  #incoming = new SerialQueue();
  #client: ListenClient | null = null;
  #listening = false;
  #closed = false;
  #retry: NodeJS.Timeout | null = null;
  #failures = 0;

  /** With its own pool and clients from a connection string; `schema` names the channel and holds `bus_payloads`. */
  static fromUrl<M>(o: {
    url: string;
    schema?: string | undefined;
    fanOut: readonly (keyof M & string)[];
    log: Logger;
  }): PgEventBus<M> {
    const schema = o.schema ?? "public";
    const conn = { connectionString: o.url, options: `-c search_path=${schema}` };
    const pool = new pg.Pool({ ...conn, max: 2 });
    pool.on("error", () => {
      // an idle client dropped by the server; the pool replaces it on the next query
    });
    return new PgEventBus<M>({
      listenClient: () => new pg.Client({ ...conn, keepAlive: true }),
      pool,
      schema,
      fanOut: o.fanOut,
      log: o.log,
    });
  }

  constructor(o: PgEventBusOptions<M>) {
    super();
    this.#o = o;
    this.#local = new InProcessEventBus<M>(o.log);
    this.#fanOut = new Set(o.fanOut);
    // channel names are identifiers (63 bytes at most): a digest keeps any schema name short
    this.channel = `kensa_bus_${createHash("sha256").update(o.schema).digest("hex").slice(0, 24)}`;
  }

  /** whether LISTEN is in place now */
  get listening(): boolean {
    return this.#listening;
  }

  /** Connects and listens; rejects when the first connection fails (the hub should not start). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    await this.#outgoing.idle();
    await this.#incoming.idle();
    const client = this.#client;
    this.#client = null;
    this.#listening = false;
    await client?.end().catch(() => {});
    await this.#o.pool.end().catch(() => {});
  }

  publish<K extends keyof M & string>(type: K, payload: M[K]): void {
    this.#local.publish(type, payload);
    if (!this.#fanOut.has(type) || this.#closed) return;
    void this.#outgoing
      .run(() => this.#notify(type, payload))
      .catch((err: unknown) =>
        this.#o.log.warn({ type, err: (err as Error).message }, "event could not be sent to other replicas"),
      );
  }

  subscribe<K extends keyof M & string>(type: K, listener: Listener<M[K]>): () => void {
    return this.#local.subscribe(type, listener);
  }

  async #notify(type: string, payload: unknown): Promise<void> {
    let text = JSON.stringify({ o: this.origin, t: type, p: payload } satisfies Wire);
    if (Buffer.byteLength(text) > MAX_INLINE_BYTES) {
      const id = `bus_${randomBytes(12).toString("base64url")}`;
      const now = Date.now();
      await this.#o.pool.query("delete from bus_payloads where created_at < $1", [
        new Date(now - PAYLOAD_TTL_MS).toISOString(),
      ]);
      await this.#o.pool.query("insert into bus_payloads (id, payload, created_at) values ($1, $2, $3)", [
        id,
        JSON.stringify(payload),
        new Date(now).toISOString(),
      ]);
      text = JSON.stringify({ o: this.origin, t: type, r: id } satisfies Wire);
    }
    await this.#o.pool.query("select pg_notify($1, $2)", [this.channel, text]);
  }

  async #connect(): Promise<void> {
    const client = this.#o.listenClient();
    let gone = false;
    const lost = (err: Error) => {
      if (gone) return;
      gone = true;
      if (this.#client === client) {
        this.#client = null;
        this.#listening = false;
      }
      client.end().catch(() => {});
      if (this.#closed) return;
      this.#o.log.warn({ err: err.message }, "event bus: the listening connection was lost; reconnecting");
      this.emit("lost", err);
      this.#scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", () => lost(new Error("connection ended")));
    client.on("notification", (msg) => {
      if (msg.channel !== this.channel || !msg.payload) return;
      const text = msg.payload;
      void this.#incoming.run(() => this.#receive(text));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (err) {
      gone = true;
      await client.end().catch(() => {});
      throw err;
    }
    if (this.#closed) {
      gone = true;
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#listening = true;
    this.#failures = 0;
    this.emit("listening");
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retry) return;
    const wait = Math.min(MAX_RECONNECT_MS, RECONNECT_MS * 2 ** this.#failures);
    this.#failures++;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#connect()
        .then(() => this.#o.log.info({ channel: this.channel }, "event bus: listening again"))
        .catch((err: unknown) => {
          this.#o.log.warn({ err: (err as Error).message }, "event bus: reconnect failed");
          this.#scheduleReconnect();
        });
    }, wait);
    this.#retry.unref();
  }

  async #receive(text: string): Promise<void> {
    let wire: Wire;
    try {
      wire = JSON.parse(text) as Wire;
    } catch {
      this.#o.log.warn({ channel: this.channel }, "event bus: a notification that is not JSON was ignored");
      return;
    }
    if (wire.o === this.origin || !this.#fanOut.has(wire.t)) return;
    let payload = wire.p;
    if (wire.r !== undefined) {
      const { rows } = await this.#o.pool
        .query("select payload from bus_payloads where id = $1", [wire.r])
        .catch((err: Error) => {
          this.#o.log.warn({ type: wire.t, err: err.message }, "event bus: a stored payload could not be read");
          return { rows: [] };
        });
      const row = rows[0];
      if (!row) return;
      payload = JSON.parse(String(row.payload)) as unknown;
    }
    this.#local.publish(wire.t as keyof M & string, payload as M[keyof M & string]);
  }
}
