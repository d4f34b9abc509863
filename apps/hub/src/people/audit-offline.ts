import { existsSync } from "node:fs";
import { join } from "node:path";
import { type AuditVerifyReport, KensaError } from "@kensa/contracts";
import SqliteDriver from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import type { HubConfig } from "../config.js";
import type { HubDatabase } from "../db/schema.js";
import { readAnchors } from "./audit-anchor.js";
import { verifyAuditChain } from "./audit-verify.js";

export interface OfflineAuditSource {
  /** the hub's data dir: its anchor log and public key (and `kensa.db` for SQLite) */
  dataDir: string;
  /** the hub's database; SQLite in the data dir when omitted */
  database?: HubConfig["database"];
  /** a PEM public key to check anchor signatures with, instead of the data dir's */
  publicKeyFile?: string;
}

/**
 * Verifies a hub's audit chain without the hub: for an auditor who has the database and the
 * data dir (or a copy of them). Opens the database read-only and never migrates it.
 */
export async function verifyAuditOffline(src: OfflineAuditSource): Promise<AuditVerifyReport> {
  const db = openReadOnly(src);
  try {
    return await verifyAuditChain(db, await readAnchors(src.dataDir, src.publicKeyFile));
  } catch (err) {
    if (err instanceof KensaError) throw err;
    throw new KensaError("KENSA_ERR_AUDIT_UNREADABLE", `the audit log could not be read: ${(err as Error).message}`);
  } finally {
    await db.destroy();
  }
}

function openReadOnly(src: OfflineAuditSource): Kysely<HubDatabase> {
  const database = src.database ?? { type: "sqlite" as const };
  if (database.type === "postgres") {
    const pool = new pg.Pool({
      connectionString: database.url,
      max: 1,
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
      options: `-c default_transaction_read_only=on${database.schema ? ` -c search_path=${database.schema}` : ""}`,
    });
    pool.on("error", () => {});
    return new Kysely<HubDatabase>({ dialect: new PostgresDialect({ pool }) });
  }
  const path = database.path || join(src.dataDir, "kensa.db");
  if (!existsSync(path)) {
    throw new KensaError("KENSA_ERR_AUDIT_UNREADABLE", `no hub database at ${path} (pass the hub's --data-dir)`);
  }
  return new Kysely<HubDatabase>({
    dialect: new SqliteDialect({ database: new SqliteDriver(path, { readonly: true, fileMustExist: true }) }),
  });
}
