import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isSha256 } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";

/** Where blobs are named: `table.column` → the blobs it names. */
export type BlobReferences = Map<string, Set<string>>;

/** rows read per query, so a large table is never loaded whole */
const PAGE = 5_000;

/**
 * Every blob the metadata names, by where: columns that hold a blob's sha256 (these must
 * exist), masks named inside label revisions, and what snapshot manifests name (images and
 * masks a frozen dataset still needs, even after their rows changed). A blob named nowhere
 * here is an orphan.
 */
export async function collectBlobReferences(
  db: Kysely<HubDatabase>,
  blobs: BlobStore,
  /** blobs known to be corrupt: not read (a read would quarantine them) */
  corrupt: ReadonlySet<string> = new Set(),
): Promise<BlobReferences> {
  const refs: BlobReferences = new Map();
  const add = (where: string, sha: string | null | undefined) => {
    if (!sha || !isSha256(sha)) return;
    const set = refs.get(where) ?? new Set<string>();
    refs.set(where, set.add(sha));
  };
  const columns: Array<[keyof HubDatabase & string, string, string]> = [
    ["events", "id", "media_sha256"],
    ["incidents", "id", "media_sha256"],
    ["incidents", "id", "clip_sha256"],
    ["event_media", "event_id", "sha256"],
    ["event_clips", "event_id", "sha256"],
    ["samples", "id", "image_sha256"],
    ["model_versions", "id", "sha256"],
    ["model_versions", "id", "int8_sha256"],
    ["bundles", "sha256", "sha256"],
    // what a bundle pins besides the model: the int8 file, golden frames (paged by the file's
    // sha, which repeats across bundles: a skipped repeat names a blob already counted)
    ["bundle_files", "sha256", "sha256"],
    ["deployments", "id", "bundle_sha256"],
    ["training_runs", "id", "log_sha256"],
    ["project_references", "id", "image_sha256"],
    ["snapshots", "id", "id"],
  ];
  for (const [table, key, column] of columns) {
    for await (const row of pages(db, table, key, [column])) add(`${table}.${column}`, row[column] as string | null);
  }
  for await (const row of pages(db, "label_revisions", "id", ["content"])) {
    for (const mask of namedIn(row.content as string, ["mask"])) add("label_revisions.content", mask);
  }
  for (const sha of refs.get("snapshots.id") ?? []) {
    // a manifest that is itself missing or corrupt is reported as such; what it names is unknown
    const bytes = corrupt.has(sha) ? null : await blobs.get(sha).catch(() => null);
    if (!bytes) continue;
    for (const s of namedIn(new TextDecoder().decode(bytes), ["sha256", "mask"])) add("snapshot manifests", s);
  }
  return refs;
}

/** every blob named anywhere */
export function allReferenced(refs: BlobReferences): Set<string> {
  const out = new Set<string>();
  for (const set of refs.values()) for (const s of set) out.add(s);
  return out;
}

/** Rows of one table, a page at a time, in key order. */
async function* pages(
  db: Kysely<HubDatabase>,
  table: keyof HubDatabase & string,
  key: string,
  columns: string[],
): AsyncIterable<Record<string, unknown>> {
  // the table and columns come from the lists above, never from input
  const d = db as unknown as Kysely<Record<string, Record<string, unknown>>>;
  let after: string | null = null;
  for (;;) {
    let q = d
      .selectFrom(table)
      .select([...new Set([key, ...columns])])
      .orderBy(key)
      .limit(PAGE);
    if (after !== null) q = q.where(key, ">", after);
    const rows = await q.execute();
    for (const r of rows) yield r;
    if (rows.length < PAGE) return;
    after = String(rows[rows.length - 1]![key]);
  }
}

/** the string values of `keys` anywhere in a JSON text */
function namedIn(json: string, keys: string[]): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (typeof x === "string" && keys.includes(k)) out.push(x);
        else walk(x);
      }
    }
  };
  try {
    walk(JSON.parse(json));
  } catch {
    // not JSON: names nothing
  }
  return out;
}
