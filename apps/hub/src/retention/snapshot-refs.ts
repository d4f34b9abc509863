import type { SnapshotManifest } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** What the dataset snapshots reference: their samples, the images in them and their manifests. */
export interface SnapshotReferences {
  sampleIds: ReadonlySet<string>;
  /** blobs that stay whatever else: what snapshot manifests name (images, masks, the manifests), and masks labels name */
  blobs: ReadonlySet<string>;
}

/**
 * Reads what every dataset snapshot references from its manifest. Snapshots are immutable, so
 * a manifest is read once per hub process and remembered by id; each look only reads the
 * manifests of snapshots made since. A manifest that cannot be read makes the look fail: a
 * run that does not know what the snapshots hold deletes no captures and no blobs.
 */
export class SnapshotRefs {
  #db: Kysely<HubDatabase>;
  #blobs: { get(sha256: string): Promise<Uint8Array | null> };
  #seen = new Set<string>();
  #samples = new Set<string>();
  #images = new Set<string>();

  constructor(db: Kysely<HubDatabase>, blobs: { get(sha256: string): Promise<Uint8Array | null> }) {
    this.#db = db;
    this.#blobs = blobs;
  }

  async load(): Promise<SnapshotReferences> {
    const ids = await this.#db.selectFrom("snapshots").select("id").execute();
    for (const { id } of ids) {
      if (this.#seen.has(id)) continue;
      const bytes = await this.#blobs.get(id);
      if (!bytes) throw new Error(`the manifest of snapshot ${id} is missing from the blob store`);
      const text = Buffer.from(bytes).toString("utf8");
      const m = JSON.parse(text) as SnapshotManifest;
      for (const it of m.items) this.#samples.add(it.sampleId);
      // every hash the manifest holds (images, masks, label hashes): what it names stays
      for (const sha of text.match(/\b[a-f0-9]{64}\b/g) ?? []) this.#images.add(sha);
      this.#images.add(id);
      this.#seen.add(id);
    }
    return { sampleIds: this.#samples, blobs: this.#images };
  }
}

/** rows of label revisions read per query */
const PAGE = 2000;

/**
 * Every blob a label revision names (masks are blobs named inside label content). Read afresh
 * at each run, a page at a time: people add labels all the time, but far fewer than devices
 * send events, so one pass per run costs less than a look per blob.
 */
export async function labelBlobs(db: Kysely<HubDatabase>): Promise<Set<string>> {
  const out = new Set<string>();
  let after = "";
  for (;;) {
    const rows = await db
      .selectFrom("label_revisions")
      .select(["id", "content"])
      .where("id", ">", after)
      .orderBy("id")
      .limit(PAGE)
      .execute();
    for (const r of rows) for (const sha of r.content.match(/\b[a-f0-9]{64}\b/g) ?? []) out.add(sha);
    if (rows.length < PAGE) return out;
    after = rows[rows.length - 1]!.id;
  }
}
