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
`;

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
  db.exec(schema);
  return db;
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
