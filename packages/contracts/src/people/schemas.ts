import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, Timestamp as Ts } from "../common.js";
import { Permission, Role } from "../permissions.js";

/*
 * People, sessions, API tokens, the permission matrix and the audit log: the HTTP schemas of
 * the hub's access control. docs/permissions.md describes them in prose (a test keeps the
 * matrix there equal to ROLE_PERMISSIONS here).
 */

// ---- users and sessions -----------------------------------------------------------------

export const USERNAME_PATTERN = "^[a-z0-9][a-z0-9._-]{0,63}$";

export const SessionUser = Type.Object({
  id: Id,
  username: Type.String(),
  displayName: Type.String(),
  role: Role,
});
export type SessionUser = Static<typeof SessionUser>;

/** The reply of login and `GET /auth/me`: who is signed in and what they may do. */
export const Session = Type.Object({
  user: SessionUser,
  permissions: Type.Array(Permission),
});
export type Session = Static<typeof Session>;

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 200 }),
    // bounded so a huge body cannot make the hub spend long in scrypt
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBody>;

const Password = Type.String({ minLength: 8, maxLength: 256 });
const DisplayName = Type.String({ minLength: 1, maxLength: 200 });

/**
 * The sites a person is scoped to on a central hub (docs/permissions.md, "Site scope"): they see
 * and decide only those sites' incidents and see only those sites; null is every site and the
 * hub's own data.
 */
export const SiteScope = Type.Union([
  Type.Array(Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }), { maxItems: 1000, uniqueItems: true }),
  Type.Null(),
]);
export type SiteScope = Static<typeof SiteScope>;

export const User = Type.Object({
  id: Id,
  username: Type.String(),
  displayName: Type.String(),
  role: Role,
  disabled: Type.Boolean(),
  /** null: every site (the default) */
  sites: SiteScope,
  createdAt: Ts,
});
export type User = Static<typeof User>;

export const CreateUser = Type.Object(
  {
    username: Type.String({ pattern: USERNAME_PATTERN }),
    displayName: DisplayName,
    role: Role,
    password: Password,
    /** scope the user to these sites; left out or null: every site */
    sites: Type.Optional(SiteScope),
  },
  { additionalProperties: false },
);
export type CreateUser = Static<typeof CreateUser>;

export const UpdateUser = Type.Object(
  {
    displayName: Type.Optional(DisplayName),
    role: Type.Optional(Role),
    disabled: Type.Optional(Type.Boolean()),
    password: Type.Optional(Password),
    /** null lifts the scope (every site) */
    sites: Type.Optional(SiteScope),
  },
  { additionalProperties: false },
);
export type UpdateUser = Static<typeof UpdateUser>;

// ---- API tokens -------------------------------------------------------------------------

export const CreateToken = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
export type CreateToken = Static<typeof CreateToken>;

/** The only reply that ever shows a token; the hub keeps its sha256 alone. */
export const CreatedToken = Type.Object({ id: Id, name: Type.String(), token: Type.String() });
export type CreatedToken = Static<typeof CreatedToken>;

export const ApiToken = Type.Object({
  id: Id,
  name: Type.String(),
  userId: Id,
  createdAt: Ts,
  lastUsedAt: Type.Union([Ts, Type.Null()]),
});
export type ApiToken = Static<typeof ApiToken>;

// ---- audit log --------------------------------------------------------------------------

export const ActorKind = Type.Union([
  Type.Literal("user"),
  Type.Literal("admin-token"),
  Type.Literal("device"),
  Type.Literal("anonymous"),
  Type.Literal("system"),
]);
export type ActorKind = Static<typeof ActorKind>;

export const AuditEntry = Type.Object({
  /** sortable: later entries have greater ids, so `before=<id>` pages back in time */
  id: Id,
  at: Ts,
  /** a username, "admin-token", a device id, or the username tried at a failed login */
  actor: Type.String(),
  actorKind: ActorKind,
  /** `<noun>.<verb>`, e.g. `auth.login`, `incident.verdict`, `user.role_change` */
  action: Type.String(),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
  ip: Type.Union([Type.String(), Type.Null()]),
  /** place in the hash chain (from 1, no gaps) */
  seq: Type.Integer({ minimum: 1 }),
  /** sha256 (hex) of the entry's canonical form, which includes the previous entry's hash */
  hash: Type.String(),
});
export type AuditEntry = Static<typeof AuditEntry>;

export const AuditQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    /** an entry id: only older entries (the previous page's `next`) */
    before: Type.Optional(Type.String({ minLength: 1 })),
    action: Type.Optional(Type.String({ minLength: 1 })),
    actor: Type.Optional(Type.String({ minLength: 1 })),
    /** `<type>` or `<type>:<id>`, e.g. `user` or `incident:inc_…` */
    target: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

/** What is wrong at the first broken place of the audit chain (docs/security.md). */
export const AuditChainFault = Type.Union([
  Type.Literal("deleted"),
  Type.Literal("modified"),
  Type.Literal("reordered"),
  Type.Literal("inserted"),
  Type.Literal("truncated"),
  Type.Literal("anchor-mismatch"),
  Type.Literal("anchor-signature"),
]);
export type AuditChainFault = Static<typeof AuditChainFault>;

/** The result of checking the whole audit chain against its head row and its anchors. */
export const AuditVerifyReport = Type.Object({
  ok: Type.Boolean(),
  /** entries checked */
  entries: Type.Integer({ minimum: 0 }),
  /** the last entry's seq and hash, as the table holds it (0 and zeros when empty) */
  lastSeq: Type.Integer({ minimum: 0 }),
  lastHash: Type.String(),
  /** anchors read from the anchor log, and whether they were signed with a key the verifier has */
  anchors: Type.Integer({ minimum: 0 }),
  signedAnchors: Type.Integer({ minimum: 0 }),
  /** the newest anchor (seq, time), null when none was written yet */
  lastAnchor: Type.Union([Type.Object({ seq: Type.Integer({ minimum: 0 }), at: Ts }), Type.Null()]),
  /** the first broken place, null when the chain is intact */
  problem: Type.Union([
    Type.Object({
      /** the entry where the chain breaks (for a deletion, the first missing seq) */
      seq: Type.Integer({ minimum: 0 }),
      fault: AuditChainFault,
      message: Type.String(),
    }),
    Type.Null(),
  ]),
});
export type AuditVerifyReport = Static<typeof AuditVerifyReport>;

/** Newest first; `next` is the `before` of the following page, null on the last one. */
export const AuditPage = Type.Object({
  items: Type.Array(AuditEntry),
  next: Type.Union([Type.String(), Type.Null()]),
});
export type AuditPage = Static<typeof AuditPage>;
