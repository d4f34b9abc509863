import { type ApiToken, type CreatedToken, KensaError, type User } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { ApiTokensTable, HubDatabase } from "../db/schema.js";
import { authId } from "./auth-id.js";
import { newSecretToken, tokenDigest } from "./token-digest.js";
import { toUser } from "./user-service.js";

/** Says what a leaked string is (and lets secret scanners find it). */
export const API_TOKEN_PREFIX = "kensa_pat_";
/** ms between writes of a token's last-used time */
const TOUCH_EVERY_MS = 60_000;

/** Personal API tokens for tools (CLI, scripts): each acts with its user's current role. */
export class ApiTokenService {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /** The reply is the only place the token ever appears. */
  async create(userId: string, name: string): Promise<CreatedToken> {
    const token = newSecretToken(API_TOKEN_PREFIX);
    const row: ApiTokensTable = {
      id: authId("tok"),
      user_id: userId,
      name: name.trim() || "token",
      token_hash: tokenDigest(token),
      created_at: isoNow(),
      last_used_at: null,
    };
    await this.#db.insertInto("api_tokens").values(row).execute();
    return { id: row.id, name: row.name, token };
  }

  async list(userId: string): Promise<ApiToken[]> {
    const rows = await this.#db
      .selectFrom("api_tokens")
      .selectAll()
      .where("user_id", "=", userId)
      .orderBy("created_at", "desc")
      .execute();
    return rows.map(toApiToken);
  }

  /** throws KENSA_ERR_TOKEN_NOT_FOUND */
  async get(id: string): Promise<ApiToken> {
    const row = await this.#db.selectFrom("api_tokens").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_TOKEN_NOT_FOUND", `no API token with id "${id}"`);
    return toApiToken(row);
  }

  /** Deletes the token: it stops working at once. Throws KENSA_ERR_TOKEN_NOT_FOUND. */
  async revoke(id: string): Promise<ApiToken> {
    const token = await this.get(id);
    await this.#db.deleteFrom("api_tokens").where("id", "=", id).execute();
    return token;
  }

  /** The enabled user a token belongs to, with the token's id; null for an unknown token. */
  async resolve(token: string): Promise<{ user: User; tokenId: string } | null> {
    if (!token.startsWith(API_TOKEN_PREFIX)) return null;
    const row = await this.#db
      .selectFrom("api_tokens")
      .innerJoin("users", "users.id", "api_tokens.user_id")
      .selectAll("users")
      .select(["api_tokens.id as token_id", "api_tokens.last_used_at"])
      .where("api_tokens.token_hash", "=", tokenDigest(token))
      .executeTakeFirst();
    if (!row || Number(row.disabled) !== 0) return null;
    if (!row.last_used_at || Date.now() - Date.parse(row.last_used_at) >= TOUCH_EVERY_MS) {
      await this.#db.updateTable("api_tokens").set({ last_used_at: isoNow() }).where("id", "=", row.token_id).execute();
    }
    return { user: toUser(row), tokenId: row.token_id };
  }
}

function toApiToken(row: Selectable<ApiTokensTable>): ApiToken {
  return {
    id: row.id,
    name: row.name,
    userId: row.user_id,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}
