import { type ImportResult, isKensaError } from "@kensa/contracts";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";

/** How an import ended, as its row stores it. */
export interface ImportEnd {
  result: ImportResult | null;
  error: { code: string; message: string } | null;
}

/**
 * The end of an import from its result or the error that stopped it: a coded error as is (a
 * strict import's failures are its result too, so the reply shows which items failed), anything
 * else KENSA_ERR_INTERNAL. The same for imports run here and on workers.
 */
export function importEnd(result: ImportResult | null, err?: unknown): ImportEnd {
  if (err === undefined) return { result, error: null };
  if (!isKensaError(err))
    return { result: null, error: { code: "KENSA_ERR_INTERNAL", message: (err as Error).message } };
  const details = err.details as { failed?: ImportResult["failed"] } | undefined;
  const failed = details?.failed
    ? { ok: 0, failed: details.failed, duplicates: [], ignored: 0, addedClasses: [], unlabeled: 0 }
    : null;
  return { result: failed, error: { code: err.code, message: err.message } };
}

/** Writes how the import ended; pass the transaction that ends its job (worker imports). */
export async function recordImportEnd(db: Kysely<HubDatabase>, id: string, total: number, end: ImportEnd) {
  await db
    .updateTable("dataset_imports")
    .set({
      status: end.error ? "failed" : "succeeded",
      total,
      result: end.result ? JSON.stringify(end.result) : null,
      error: end.error ? JSON.stringify(end.error) : null,
      finished_at: isoNow(),
    })
    .where("id", "=", id)
    .where("status", "=", "running")
    .execute();
}
