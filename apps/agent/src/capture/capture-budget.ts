import type Database from "better-sqlite3";
import type { AgentDatabase } from "../storage/agent-db.js";

/** The UTC day of a time, `YYYY-MM-DD`: budgets reset at UTC midnight, the same on every device. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/**
 * Captures allowed per source per UTC day, counted in the agent database so a restart (or a
 * crash loop) cannot reset the count and flood the labeling queue.
 */
export class CaptureBudget {
  readonly #perDay: number;
  readonly #get: Database.Statement<[string, string], { count: number }>;
  readonly #take: (sourceId: string, day: string) => boolean;
  readonly #prune: Database.Statement<[string]>;

  constructor(db: AgentDatabase, perDay: number) {
    this.#perDay = perDay;
    this.#get = db.prepare("SELECT count FROM capture_budget WHERE source_id = ? AND day = ?");
    const bump = db.prepare<[string, string]>(
      `INSERT INTO capture_budget (source_id, day, count) VALUES (?, ?, 1)
       ON CONFLICT(source_id, day) DO UPDATE SET count = count + 1`,
    );
    this.#take = db.transaction((sourceId: string, day: string) => {
      if (this.used(sourceId, day) >= this.#perDay) return false;
      bump.run(sourceId, day);
      return true;
    });
    this.#prune = db.prepare("DELETE FROM capture_budget WHERE day < ?");
  }

  get perDay(): number {
    return this.#perDay;
  }

  used(sourceId: string, day: string): number {
    return this.#get.get(sourceId, day)?.count ?? 0;
  }

  /** Whether a capture is left today for the source. */
  left(sourceId: string, at: Date): boolean {
    return this.used(sourceId, utcDay(at)) < this.#perDay;
  }

  /** Spends one capture of the source's day; false when the budget is used up. */
  take(sourceId: string, at: Date): boolean {
    const day = utcDay(at);
    const ok = this.#take(sourceId, day);
    // days before yesterday are history nobody reads
    if (ok) this.#prune.run(utcDay(new Date(at.getTime() - 2 * 86_400_000)));
    return ok;
  }
}
