import type { Signature, SignedStatement } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** The tables of migration 0017_bundle_signing: public material only, never a private key. */
type SigningTables = {
  signing_roots: { version: number; signed: string; signatures: string; created_at: string };
  signing_counters: { name: string; value: number };
  bundle_sequences: { content_sha256: string; sequence: number; project_id: string; created_at: string };
  bundle_signatures: { bundle_sha256: string; key_id: string; signature: string; created_at: string };
  downgrade_grants: {
    device_id: string;
    pipeline: string;
    bundle_sha256: string;
    signed: string;
    signatures: string;
    created_at: string;
  };
};

/** The signing tables, and the few hub tables signing reads. */
export class SigningStore {
  readonly #db: Kysely<HubDatabase & SigningTables>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db.withTables<SigningTables>();
  }

  /** Every trust root above `since`, oldest first. */
  async roots(since = 0): Promise<Array<SignedStatement & { version: number }>> {
    const rows = await this.#db
      .selectFrom("signing_roots")
      .selectAll()
      .where("version", ">", since)
      .orderBy("version", "asc")
      .execute();
    return rows.map((r) => ({
      version: r.version,
      signed: r.signed,
      signatures: JSON.parse(r.signatures) as Signature[],
    }));
  }

  async latestRoot(): Promise<(SignedStatement & { version: number }) | null> {
    const row = await this.#db
      .selectFrom("signing_roots")
      .selectAll()
      .orderBy("version", "desc")
      .limit(1)
      .executeTakeFirst();
    return row
      ? { version: row.version, signed: row.signed, signatures: JSON.parse(row.signatures) as Signature[] }
      : null;
  }

  /** Adds root `version`; false when another replica added that version first. */
  async addRoot(version: number, statement: SignedStatement, now: string): Promise<boolean> {
    const res = await this.#db
      .insertInto("signing_roots")
      .values({ version, signed: statement.signed, signatures: JSON.stringify(statement.signatures), created_at: now })
      .onConflict((oc) => oc.column("version").doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** The next value of the hub's one sequence (bundles and grants share it): atomic across replicas. */
  async nextSequence(): Promise<number> {
    const row = await this.#db
      .updateTable("signing_counters")
      .set((eb) => ({ value: eb("value", "+", 1) }))
      .where("name", "=", "bundle")
      .returning("value")
      .executeTakeFirstOrThrow();
    return Number(row.value);
  }

  async currentSequence(): Promise<number> {
    const row = await this.#db
      .selectFrom("signing_counters")
      .select("value")
      .where("name", "=", "bundle")
      .executeTakeFirst();
    return Number(row?.value ?? 0);
  }

  /** The sequence of a bundle content, assigned on first sight (the first replica to insert wins). */
  async sequenceOf(contentSha256: string, projectId: string, now: string): Promise<number> {
    const existing = await this.#findSequence(contentSha256);
    if (existing !== undefined) return existing;
    const sequence = await this.nextSequence();
    await this.#db
      .insertInto("bundle_sequences")
      .values({ content_sha256: contentSha256, sequence, project_id: projectId, created_at: now })
      .onConflict((oc) => oc.column("content_sha256").doNothing())
      .execute();
    return (await this.#findSequence(contentSha256)) ?? sequence;
  }

  async #findSequence(contentSha256: string): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom("bundle_sequences")
      .select("sequence")
      .where("content_sha256", "=", contentSha256)
      .executeTakeFirst();
    return row ? Number(row.sequence) : undefined;
  }

  /** The highest bundle sequence of a project: a bundle below it is an older one. */
  async projectSequence(projectId: string): Promise<number> {
    const row = await this.#db
      .selectFrom("bundle_sequences")
      .select((eb) => eb.fn.max("sequence").as("max"))
      .where("project_id", "=", projectId)
      .executeTakeFirst();
    return Number(row?.max ?? 0);
  }

  async bundleSignatures(sha256: string): Promise<Signature[]> {
    const rows = await this.#db
      .selectFrom("bundle_signatures")
      .select(["key_id", "signature"])
      .where("bundle_sha256", "=", sha256)
      .orderBy("created_at", "asc")
      .execute();
    return rows.map((r) => ({ keyId: r.key_id, sig: r.signature }));
  }

  async addBundleSignature(sha256: string, sig: Signature, now: string): Promise<void> {
    await this.#db
      .insertInto("bundle_signatures")
      .values({ bundle_sha256: sha256, key_id: sig.keyId, signature: sig.sig, created_at: now })
      .onConflict((oc) => oc.columns(["bundle_sha256", "key_id"]).doNothing())
      .execute();
  }

  /** A bundle's project, or undefined when the hub has no such bundle. */
  async bundleProject(sha256: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom("bundles")
      .select("project_id")
      .where("sha256", "=", sha256)
      .executeTakeFirst();
    return row?.project_id;
  }

  async grant(deviceId: string, pipeline: string, sha256: string): Promise<SignedStatement | null> {
    const row = await this.#db
      .selectFrom("downgrade_grants")
      .select(["signed", "signatures"])
      .where("device_id", "=", deviceId)
      .where("pipeline", "=", pipeline)
      .where("bundle_sha256", "=", sha256)
      .executeTakeFirst();
    return row ? { signed: row.signed, signatures: JSON.parse(row.signatures) as Signature[] } : null;
  }

  /** Stores (or replaces: a newer grant supersedes) a device pipeline's grant for a bundle. */
  async putGrant(deviceId: string, pipeline: string, sha256: string, statement: SignedStatement, now: string) {
    const values = {
      device_id: deviceId,
      pipeline,
      bundle_sha256: sha256,
      signed: statement.signed,
      signatures: JSON.stringify(statement.signatures),
      created_at: now,
    };
    await this.#db
      .insertInto("downgrade_grants")
      .values(values)
      .onConflict((oc) =>
        oc
          .columns(["device_id", "pipeline", "bundle_sha256"])
          .doUpdateSet({ signed: values.signed, signatures: values.signatures, created_at: now }),
      )
      .execute();
  }

  /** Deletes the grants of these devices' pipeline for any bundle but `keep`. */
  async dropGrants(deviceIds: readonly string[], pipeline: string, keep: string): Promise<void> {
    if (deviceIds.length === 0) return;
    await this.#db
      .deleteFrom("downgrade_grants")
      .where("device_id", "in", deviceIds)
      .where("pipeline", "=", pipeline)
      .where("bundle_sha256", "!=", keep)
      .execute();
  }

  async setGrantSignatures(deviceId: string, pipeline: string, sha256: string, signatures: Signature[]) {
    await this.#db
      .updateTable("downgrade_grants")
      .set({ signatures: JSON.stringify(signatures) })
      .where("device_id", "=", deviceId)
      .where("pipeline", "=", pipeline)
      .where("bundle_sha256", "=", sha256)
      .execute();
  }
}
