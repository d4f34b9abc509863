import { KensaError } from "@kensa/contracts";

/**
 * The position after the last row of a page, in the order of the list that made it: the sort
 * key's values, led by the name of the order so a cursor is never read in another order. Opaque
 * to clients (base64url JSON); a list reads the next page as `WHERE (sort key) > (cursor)`, which
 * an index in that order answers without skipping rows, however deep the page.
 */
export type CursorKey = ReadonlyArray<string | number>;

/** A page of a list and the cursor of the next one (`null` on the last page). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function encodeCursor(order: string, key: CursorKey): string {
  return Buffer.from(JSON.stringify([order, ...key])).toString("base64url");
}

/**
 * The key of a cursor made by `encodeCursor(order, …)` whose values have the given types.
 * Throws KENSA_ERR_VALIDATION for anything else (a cursor from another list or order, or edited).
 */
export function decodeCursor<K extends CursorKey>(
  cursor: string,
  order: string,
  types: { [I in keyof K]: K[I] extends number ? "number" : "string" },
): K {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = null;
  }
  const kinds: readonly string[] = types;
  const ok =
    Array.isArray(parsed) &&
    parsed.length === kinds.length + 1 &&
    parsed[0] === order &&
    kinds.every((t, i) => typeof parsed[i + 1] === t && (t !== "number" || Number.isSafeInteger(parsed[i + 1])));
  if (!ok || !Array.isArray(parsed)) {
    throw new KensaError("KENSA_ERR_VALIDATION", `cursor "${cursor}" was not made by this list in "${order}" order`, {
      issues: [{ path: "/cursor", message: `not a cursor of this list in "${order}" order` }],
    });
  }
  return parsed.slice(1) as unknown as K;
}

/**
 * Turns the `limit + 1` rows a list fetched into a page: the extra row only says that a next
 * page exists, so the last page never ends with an empty request.
 */
export function pageOf<R, T>(rows: R[], limit: number, map: (r: R) => T, keyOf: (r: R) => string): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(map), nextCursor: more && last !== undefined ? keyOf(last) : null };
}

/** An ISO-8601 instant as the hub stores it (`toISOString`), so text comparisons order by time. */
export function storedInstant(value: string, key: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) {
    throw new KensaError("KENSA_ERR_VALIDATION", `${key}: "${value}" is not a date-time`, {
      issues: [{ path: `/${key}`, message: "must be a date-time" }],
    });
  }
  return new Date(t).toISOString();
}
