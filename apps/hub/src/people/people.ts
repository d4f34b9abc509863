import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { Logger } from "../logger.js";
import { ApiTokenService } from "./api-token-service.js";
import { AuditLog } from "./audit-log.js";
import { ensureInitialAdmin, removeStaleAdminPassword } from "./initial-admin.js";
import { LoginThrottle } from "./login-throttle.js";
import { SessionService } from "./session-service.js";
import { UserService } from "./user-service.js";

/** People: users and roles, sessions, API tokens, and the audit log of who did what. */
export interface People {
  users: UserService;
  sessions: SessionService;
  tokens: ApiTokenService;
  audit: AuditLog;
  /** failed sign-ins, counted in the database (shared by hub replicas) */
  throttle: LoginThrottle;
  /** the password of the user `admin` when this start generated it (first start), else null */
  initialAdminPassword: string | null;
}

export async function createPeople(deps: {
  db: Kysely<HubDatabase>;
  /** KENSA_ADMIN_PASSWORD */
  env: Record<string, string | undefined>;
  /** where a generated admin password is written */
  dataDir: string;
  /** ms a console session lasts */
  sessionTtlMs: number;
  /** says when the generated admin password's file is deleted */
  log?: Logger;
}): Promise<People> {
  const users = new UserService(deps.db);
  const initialAdminPassword = await ensureInitialAdmin(users, deps.env, deps.dataDir);
  // the generated password leaves the disk once it was changed (here, on another replica, or before a restart)
  const log = deps.log ?? { debug() {}, info() {}, warn() {}, error() {} };
  if (initialAdminPassword === null) await removeStaleAdminPassword(users, deps.dataDir, log);
  users.onPasswordChanged = (user) =>
    user.username === "admin" ? removeStaleAdminPassword(users, deps.dataDir, log) : Promise.resolve();
  return {
    users,
    sessions: new SessionService(deps.db, deps.sessionTtlMs),
    tokens: new ApiTokenService(deps.db),
    audit: new AuditLog(deps.db, { dataDir: deps.dataDir }),
    throttle: new LoginThrottle(deps.db),
    initialAdminPassword,
  };
}
