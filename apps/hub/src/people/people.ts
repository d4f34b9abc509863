import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { ApiTokenService } from "./api-token-service.js";
import { AuditLog } from "./audit-log.js";
import { ensureInitialAdmin } from "./initial-admin.js";
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
}): Promise<People> {
  const users = new UserService(deps.db);
  const initialAdminPassword = await ensureInitialAdmin(users, deps.env, deps.dataDir);
  return {
    users,
    sessions: new SessionService(deps.db, deps.sessionTtlMs),
    tokens: new ApiTokenService(deps.db),
    audit: new AuditLog(deps.db),
    throttle: new LoginThrottle(deps.db),
    initialAdminPassword,
  };
}
