import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";

export type AgentDatabase = Database.Database;

const schema = `
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('event_seq', 0);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
  event_id TEXT PRIMARY KEY,
  file TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('events_dropped', 0);
INSERT OR IGNORE INTO counters (name, value) VALUES ('events_rejected', 0);
INSERT OR IGNORE INTO counters (name, value) VALUES ('media_evicted', 0);
CREATE TABLE IF NOT EXISTS captures (
  id TEXT PRIMARY KEY,
  file TEXT NOT NULL,
  source_id TEXT NOT NULL,
  query TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS capture_budget (
  source_id TEXT NOT NULL,
  day TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (source_id, day)
);
CREATE TABLE IF NOT EXISTS clips (
  file TEXT PRIMARY KEY,
  event_id TEXT NOT NULL,
  source_id TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  frames INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
`;

/** Columns added after the first release, for data dirs created before them. */
const addedColumns: Array<{ table: string; column: string; ddl: string }> = [
  // bytes of the file, for the disk quotas; 0 for rows of old agents until startup measures them
  { table: "media", column: "bytes", ddl: "INTEGER NOT NULL DEFAULT 0" },
  // set once uploaded: the file stays as the local ring buffer until the media quota evicts it
  { table: "media", column: "uploaded_at", ddl: "INTEGER" },
  // incident clips go to the hub: pending → uploaded, or refused (kept on the device either way)
  { table: "clips", column: "upload", ddl: "TEXT NOT NULL DEFAULT 'pending'" },
  { table: "clips", column: "attempts", ddl: "INTEGER NOT NULL DEFAULT 0" },
  { table: "clips", column: "next_at", ddl: "INTEGER NOT NULL DEFAULT 0" },
];

/**
 * Opens `<dataDir>/agent.db`. WAL lets the publisher read while the pipeline appends.
 * synchronous=FULL, not NORMAL: in WAL mode NORMAL survives a process crash but may lose the
 * last commits on power loss, and an edge box losing power is the normal case, not the
 * exception. Losing a commit would lose a finding and hand its seq to a different event after
 * reboot (the hub would see two events with one seq). FULL costs one WAL fsync per commit,
 * which at camera rates (≤ tens of frames/s) is noise; acks are deleted in batches.
 */
export function openAgentDb(dataDir: string): AgentDatabase {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, "agent.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  // a backlog flushed after hours offline must not leave a WAL the size of the backlog behind
  db.pragma("journal_size_limit = 16777216");
  db.exec(schema);
  for (const c of addedColumns) {
    const cols = db.prepare<[], { name: string }>(`PRAGMA table_info(${c.table})`).all();
    if (!cols.some((x) => x.name === c.column)) db.exec(`ALTER TABLE ${c.table} ADD COLUMN ${c.column} ${c.ddl}`);
  }
  return db;
}

/** A persisted counter of the `counters` table (events_dropped, events_rejected, media_evicted). */
export class Counter {
  readonly #get: Database.Statement<[], { value: number }>;
  readonly #add: Database.Statement<[number]>;

  constructor(db: AgentDatabase, name: "events_dropped" | "events_rejected" | "media_evicted") {
    this.#get = db.prepare(`SELECT value FROM counters WHERE name = '${name}'`);
    this.#add = db.prepare(`UPDATE counters SET value = value + ? WHERE name = '${name}'`);
  }

  get value(): number {
    return this.#get.get()?.value ?? 0;
  }

  add(n: number): void {
    if (n > 0) this.#add.run(n);
  }
}

/** Small persisted key/value state (applied desired rev). */
export class StateStore {
  readonly #get: Database.Statement<[string], { value: string }>;
  readonly #set: Database.Statement<[string, string]>;

  constructor(db: AgentDatabase) {
    this.#get = db.prepare("SELECT value FROM state WHERE key = ?");
    this.#set = db.prepare(
      "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
  }

  get<T>(key: string): T | undefined {
    const row = this.#get.get(key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  set(key: string, value: unknown): void {
    this.#set.run(key, JSON.stringify(value));
  }
}
