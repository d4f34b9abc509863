import { KensaError } from "@kensa/contracts";

/** A position in a stream read in (created_at, id) order: the last row passed. */
export interface SyncCursor {
  at: string;
  id: string;
}

/** the start of a stream */
export const START: SyncCursor = { at: "", id: "" };

export function encodeSyncCursor(c: SyncCursor): string {
  return Buffer.from(JSON.stringify([c.at, c.id])).toString("base64url");
}

/** throws KENSA_ERR_VALIDATION for anything but a cursor this code made */
export function decodeSyncCursor(text: string | undefined): SyncCursor {
  if (!text) return START;
  try {
    const v = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string") {
      return { at: v[0], id: v[1] };
    }
  } catch {
    // reported below
  }
  throw new KensaError("KENSA_ERR_VALIDATION", "`since` is not a cursor this hub gave out");
}

/** ISO time `ms` before now: rows newer than this may still have company committing behind them. */
export function settledBefore(ms: number): string {
  return new Date(Date.now() - ms).toISOString();
}
