import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import {
  type CreateSite,
  KensaError,
  type Site,
  type SiteField,
  type SiteFleet,
  type SiteWithToken,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { SitesTable } from "../db/schema/federation.js";
import type { HubDatabase } from "../db/schema.js";

/** Says what a leaked string is (and lets secret scanners find it). */
export const SITE_TOKEN_PREFIX = "kensa_site_";

function newSiteToken(): { token: string; sha256: string } {
  const token = `${SITE_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { token, sha256: createHash("sha256").update(token).digest("hex") };
}

/**
 * On a central hub: the site hubs allowed to push incidents and pull models. A site token is
 * shown once and kept as its SHA-256 (like worker and API tokens); it grants the federation
 * routes of its own site only.
 */
export class SiteRegistry {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /** throws KENSA_ERR_SITE_EXISTS */
  async create(input: CreateSite): Promise<SiteWithToken> {
    const existing = await this.#db.selectFrom("sites").select("id").where("id", "=", input.id).executeTakeFirst();
    if (existing) throw new KensaError("KENSA_ERR_SITE_EXISTS", `a site with id "${input.id}" already exists`);
    const { token, sha256 } = newSiteToken();
    const row: SitesTable = {
      id: input.id,
      name: input.name,
      projects: JSON.stringify(input.projects),
      token_sha256: sha256,
      created_at: isoNow(),
      last_seen_at: null,
      fleet: null,
      field: null,
    };
    await this.#db.insertInto("sites").values(row).execute();
    return { site: await this.get(input.id), token };
  }

  /** A new token; the previous one stops working with this commit. Throws KENSA_ERR_SITE_NOT_FOUND. */
  async rotate(id: string): Promise<SiteWithToken> {
    await this.row(id);
    const { token, sha256 } = newSiteToken();
    await this.#db.updateTable("sites").set({ token_sha256: sha256 }).where("id", "=", id).execute();
    return { site: await this.get(id), token };
  }

  async list(): Promise<Site[]> {
    const rows = await this.#db.selectFrom("sites").selectAll().orderBy("id").execute();
    return Promise.all(rows.map((r) => this.#toSite(r)));
  }

  async get(id: string): Promise<Site> {
    return this.#toSite(await this.row(id));
  }

  /** throws KENSA_ERR_SITE_NOT_FOUND */
  async row(id: string): Promise<Selectable<SitesTable>> {
    const row = await this.#db.selectFrom("sites").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_SITE_NOT_FOUND", `no site with id "${id}"`);
    return row;
  }

  /**
   * The site the token belongs to, which must be the one in the path; notes when it was last
   * seen. Throws KENSA_ERR_SITE_TOKEN_INVALID for a missing, unknown or rotated token, and for
   * another site's (a site may not push as another).
   */
  async verify(siteId: string, authorization: string | undefined): Promise<Selectable<SitesTable>> {
    const header = authorization ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (!token.startsWith(SITE_TOKEN_PREFIX)) {
      throw new KensaError(
        "KENSA_ERR_SITE_TOKEN_INVALID",
        token ? "this is not a site token (kensa_site_…)" : "send the site token (Authorization: Bearer kensa_site_…)",
      );
    }
    const row = await this.#db.selectFrom("sites").selectAll().where("id", "=", siteId).executeTakeFirst();
    const digest = createHash("sha256").update(token).digest();
    // the same answer, in about the same time, for an unknown site and a wrong token
    const expected = Buffer.from(row?.token_sha256 ?? "0".repeat(64), "hex");
    if (!row || !timingSafeEqual(expected, digest)) {
      throw new KensaError("KENSA_ERR_SITE_TOKEN_INVALID", `unknown or rotated token for site "${siteId}"`);
    }
    const at = isoNow();
    await this.#db.updateTable("sites").set({ last_seen_at: at }).where("id", "=", siteId).execute();
    return { ...row, last_seen_at: at };
  }

  async setFleet(siteId: string, fleet: SiteFleet): Promise<void> {
    await this.#db
      .updateTable("sites")
      .set({ fleet: JSON.stringify(fleet) })
      .where("id", "=", siteId)
      .execute();
  }

  /** the latest field summary wins: one taken earlier (a push delayed by a cut) does not replace it */
  async setField(siteId: string, field: SiteField): Promise<void> {
    const row = await this.#db.selectFrom("sites").select("field").where("id", "=", siteId).executeTakeFirst();
    const prev = row?.field ? (JSON.parse(row.field) as SiteField) : null;
    if (prev && prev.at > field.at) return;
    await this.#db
      .updateTable("sites")
      .set({ field: JSON.stringify(field) })
      .where("id", "=", siteId)
      .execute();
  }

  async #toSite(r: Selectable<SitesTable>): Promise<Site> {
    const counts = await this.#db
      .selectFrom("incidents")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("site_id", "=", r.id)
      .executeTakeFirst();
    const verdicts = await this.#db
      .selectFrom("verdicts")
      .innerJoin("incidents", "incidents.id", "verdicts.incident_id")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("incidents.site_id", "=", r.id)
      .executeTakeFirst();
    const samples = await this.#db
      .selectFrom("site_samples")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("site_id", "=", r.id)
      .executeTakeFirst();
    return {
      id: r.id,
      name: r.name,
      projects: JSON.parse(r.projects) as string[],
      createdAt: r.created_at,
      lastSeenAt: r.last_seen_at,
      incidents: Number(counts?.n ?? 0),
      verdicts: Number(verdicts?.n ?? 0),
      samples: Number(samples?.n ?? 0),
      fleet: r.fleet ? (JSON.parse(r.fleet) as SiteFleet) : null,
      field: r.field ? (JSON.parse(r.field) as SiteField) : null,
    };
  }
}

/** The slugs a site serves. */
export function siteProjects(row: Pick<SitesTable, "projects">): string[] {
  return JSON.parse(row.projects) as string[];
}
