import {
  type CreateUser,
  KensaError,
  permissionsOf,
  type Role,
  type Session,
  type SessionUser,
  type SiteScope,
  type UpdateUser,
  USERNAME_PATTERN,
  type User,
} from "@kensa/contracts";
import type { FastifyRequest } from "fastify";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase, UsersTable } from "../db/schema.js";
import { ADMIN_TOKEN_ACTOR } from "../http/request-auth.js";
import { authId } from "./auth-id.js";
import { dummyHash, hashPassword, verifyPassword } from "./password-hash.js";

const USERNAME_RE = new RegExp(USERNAME_PATTERN);

export interface UserUpdate {
  before: User;
  after: User;
}

/** People who sign in to the console: accounts, roles and password checks. */
export class UserService {
  #db: Kysely<HubDatabase>;
  /** called after a user's password was changed (the generated admin password's file goes) */
  onPasswordChanged: ((user: User) => Promise<unknown>) | null = null;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /** throws KENSA_ERR_USER_EXISTS, KENSA_ERR_VALIDATION (reserved name) */
  async create(input: CreateUser): Promise<User> {
    const username = input.username.toLowerCase();
    if (!USERNAME_RE.test(username) || username === ADMIN_TOKEN_ACTOR) {
      throw new KensaError("KENSA_ERR_VALIDATION", `username "${input.username}" is reserved or not allowed`, {
        issues: [{ path: "/body/username", message: `"${input.username}" is reserved or not allowed` }],
      });
    }
    const row: UsersTable = {
      id: authId("usr"),
      username,
      display_name: input.displayName.trim() || username,
      role: input.role,
      password_hash: await hashPassword(input.password),
      disabled: 0,
      created_at: isoNow(),
      sites: await this.#sitesColumn(input.sites ?? null),
    };
    try {
      await this.#db.insertInto("users").values(row).execute();
    } catch (err) {
      // the unique index decides between concurrent creates; its error text differs per dialect
      if (await this.#byUsername(username)) {
        throw new KensaError("KENSA_ERR_USER_EXISTS", `a user named "${username}" already exists`);
      }
      throw err;
    }
    return toUser({ ...row, sites: row.sites ?? null });
  }

  async list(): Promise<User[]> {
    const rows = await this.#db.selectFrom("users").selectAll().orderBy("username").execute();
    return rows.map(toUser);
  }

  /** throws KENSA_ERR_USER_NOT_FOUND */
  async get(id: string): Promise<User> {
    const row = await this.#db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_USER_NOT_FOUND", `no user with id "${id}"`);
    return toUser(row);
  }

  /**
   * Applies a partial update. Disabling a user or changing their password ends their sessions
   * (their API tokens stop working while disabled). Throws KENSA_ERR_USER_NOT_FOUND,
   * KENSA_ERR_LAST_ADMIN.
   */
  async update(id: string, patch: UpdateUser): Promise<UserUpdate> {
    const before = await this.get(id);
    const losesAdmin =
      before.role === "admin" &&
      !before.disabled &&
      ((patch.role !== undefined && patch.role !== "admin") || patch.disabled === true);
    if (losesAdmin) {
      const others = await this.#db
        .selectFrom("users")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("role", "=", "admin")
        .where("disabled", "=", 0)
        .where("id", "!=", id)
        .executeTakeFirstOrThrow();
      if (Number(others.n) === 0) {
        throw new KensaError(
          "KENSA_ERR_LAST_ADMIN",
          `${before.username} is the last enabled admin; give another user the admin role first`,
        );
      }
    }
    const set: Partial<UsersTable> = {};
    if (patch.displayName !== undefined) set.display_name = patch.displayName.trim() || before.username;
    if (patch.role !== undefined) set.role = patch.role;
    if (patch.disabled !== undefined) set.disabled = patch.disabled ? 1 : 0;
    if (patch.password !== undefined) set.password_hash = await hashPassword(patch.password);
    if (patch.sites !== undefined) set.sites = await this.#sitesColumn(patch.sites);
    if (Object.keys(set).length > 0) {
      await this.#db.transaction().execute(async (trx) => {
        await trx.updateTable("users").set(set).where("id", "=", id).execute();
        if (patch.disabled === true || patch.password !== undefined) {
          await trx.deleteFrom("sessions").where("user_id", "=", id).execute();
        }
      });
    }
    const after = await this.get(id);
    if (patch.password !== undefined) await this.onPasswordChanged?.(after);
    return { before, after };
  }

  /**
   * The enabled user whose password this is, else null with the reason (for the audit log
   * only: callers answer every failure alike). Always runs one scrypt, so an unknown username
   * takes as long as a wrong password.
   */
  async authenticate(
    username: string,
    password: string,
  ): Promise<{ user: User; reason: null } | { user: null; reason: "unknown user" | "wrong password" | "disabled" }> {
    const row = await this.#byUsername(username.trim().toLowerCase());
    const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHash()));
    if (!row) return { user: null, reason: "unknown user" };
    if (!ok) return { user: null, reason: "wrong password" };
    if (row.disabled) return { user: null, reason: "disabled" };
    return { user: toUser(row), reason: null };
  }

  /** Whether any user exists (the first start creates the admin). */
  async any(): Promise<boolean> {
    return (await this.#db.selectFrom("users").select("id").limit(1).executeTakeFirst()) !== undefined;
  }

  /** the `sites` column of a scope; throws KENSA_ERR_SITE_NOT_FOUND for a site this hub does not know */
  async #sitesColumn(sites: SiteScope): Promise<string | null> {
    if (sites === null) return null;
    const known = sites.length
      ? await this.#db.selectFrom("sites").select("id").where("id", "in", sites).execute()
      : [];
    const missing = sites.filter((id) => !known.some((k) => k.id === id));
    if (missing.length) {
      throw new KensaError(
        "KENSA_ERR_SITE_NOT_FOUND",
        `no site ${missing.map((m) => `"${m}"`).join(", ")} on this hub; a user can only be scoped to registered sites`,
        { sites: missing },
      );
    }
    return JSON.stringify([...sites].sort());
  }

  #byUsername(username: string): Promise<Selectable<UsersTable> | undefined> {
    return this.#db.selectFrom("users").selectAll().where("username", "=", username).executeTakeFirst();
  }
}

export function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    role: row.role as Role,
    disabled: Number(row.disabled) !== 0,
    sites: row.sites ? (JSON.parse(row.sites) as string[]) : null,
    createdAt: row.created_at,
  };
}

export function toSessionUser(u: Pick<User, "id" | "username" | "displayName" | "role">): SessionUser {
  return { id: u.id, username: u.username, displayName: u.displayName, role: u.role };
}

/** `GET /auth/me` for the calling person; the admin token appears as a pseudo-user. */
export function sessionOf(req: Pick<FastifyRequest, "principal">): Session {
  const p = req.principal;
  if (p?.kind === "user") return { user: toSessionUser(p.user), permissions: permissionsOf(p.user.role) };
  if (p?.kind === "admin") {
    return {
      user: { id: ADMIN_TOKEN_ACTOR, username: ADMIN_TOKEN_ACTOR, displayName: "Admin token", role: "admin" },
      permissions: permissionsOf("admin"),
    };
  }
  throw new KensaError("KENSA_ERR_UNAUTHORIZED", "not signed in");
}
