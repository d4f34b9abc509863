import { Type } from "@sinclair/typebox";
import { List } from "../common.js";
import { PermissionMatrix } from "../permissions.js";
import { defineRoutes } from "../route.js";
import {
  ApiToken,
  AuditPage,
  AuditQuery,
  AuditVerifyReport,
  CreatedToken,
  CreateToken,
  CreateUser,
  LoginBody,
  Session,
  UpdateUser,
  User,
} from "./schemas.js";

const IdParams = Type.Object({ id: Type.String() });

/**
 * People: console sign-in and sign-out, who is signed in, the permission matrix, users, their
 * API tokens, and the audit log of who did what.
 */
export const peopleRoutes = defineRoutes({
  login: {
    method: "POST",
    path: "/api/v1/auth/login",
    summary: "Sign in with a username and password; sets the session cookie",
    auth: "public",
    body: LoginBody,
    reply: Session,
    // one KENSA_ERR_UNAUTHORIZED for every failure, so the reply does not tell which usernames exist
    errors: ["KENSA_ERR_UNAUTHORIZED", "KENSA_ERR_LOGIN_THROTTLED"],
  },
  logout: {
    method: "POST",
    path: "/api/v1/auth/logout",
    // public so a console whose session already expired can still clear its cookie
    summary: "Sign out: revokes the session and clears its cookie",
    auth: "public",
    status: 204,
    errors: ["KENSA_ERR_CSRF_HEADER_MISSING"],
  },
  me: {
    method: "GET",
    path: "/api/v1/auth/me",
    summary: "Who is signed in and what they may do",
    permission: "authenticated",
    reply: Session,
  },
  permissions: {
    method: "GET",
    path: "/api/v1/auth/permissions",
    summary: "Every permission, and each role's",
    permission: "authenticated",
    reply: PermissionMatrix,
  },
  listUsers: {
    method: "GET",
    path: "/api/v1/users",
    summary: "List users",
    permission: "users:manage",
    reply: List(User),
  },
  createUser: {
    method: "POST",
    path: "/api/v1/users",
    summary: "Create a user",
    permission: "users:manage",
    body: CreateUser,
    status: 201,
    reply: User,
    // KENSA_ERR_VALIDATION also for a reserved username
    errors: ["KENSA_ERR_USER_EXISTS", "KENSA_ERR_VALIDATION"],
  },
  updateUser: {
    method: "PATCH",
    path: "/api/v1/users/:id",
    summary: "Change a user's display name, role, password, or disable them",
    permission: "users:manage",
    params: IdParams,
    body: UpdateUser,
    reply: User,
    errors: ["KENSA_ERR_USER_NOT_FOUND", "KENSA_ERR_LAST_ADMIN"],
  },
  createToken: {
    method: "POST",
    path: "/api/v1/users/:id/tokens",
    summary: "Create an API token for a user (one's own, or anyone's with users:manage); the reply alone shows it",
    permission: "authenticated",
    params: IdParams,
    body: CreateToken,
    status: 201,
    reply: CreatedToken,
    errors: ["KENSA_ERR_FORBIDDEN", "KENSA_ERR_USER_NOT_FOUND"],
  },
  listTokens: {
    method: "GET",
    path: "/api/v1/users/:id/tokens",
    summary: "A user's API tokens (one's own, or anyone's with users:manage)",
    permission: "authenticated",
    params: IdParams,
    reply: List(ApiToken),
    errors: ["KENSA_ERR_FORBIDDEN", "KENSA_ERR_USER_NOT_FOUND"],
  },
  revokeToken: {
    method: "DELETE",
    path: "/api/v1/tokens/:id",
    summary: "Revoke an API token (one's own, or anyone's with users:manage): it stops working at once",
    permission: "authenticated",
    params: IdParams,
    status: 204,
    errors: ["KENSA_ERR_TOKEN_NOT_FOUND", "KENSA_ERR_FORBIDDEN"],
  },
  audit: {
    method: "GET",
    path: "/api/v1/audit",
    summary: "The audit log, newest first, a page at a time",
    permission: "audit:read",
    query: AuditQuery,
    reply: AuditPage,
  },
  auditVerify: {
    method: "GET",
    path: "/api/v1/audit/verify",
    summary: "Check the audit log's hash chain, head and anchors; names the first broken entry",
    permission: "audit:read",
    reply: AuditVerifyReport,
  },
});
