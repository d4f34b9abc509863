import { type Static, Type } from "@sinclair/typebox";

/**
 * Roles and permissions: what every route may ask of a person (route tables name a permission),
 * and what each role holds. docs/permissions.md describes them in prose.
 */

// ---- roles and permissions --------------------------------------------------------------

/** Every permission a route can ask for, in the order the docs list them. */
export const PERMISSIONS = [
  "incidents:read",
  "incidents:review",
  "samples:read",
  "samples:label",
  "datasets:read",
  "datasets:manage",
  "runs:read",
  "runs:manage",
  "models:read",
  "models:upload",
  "models:approve",
  "devices:read",
  "devices:manage",
  "deployments:read",
  "deployments:manage",
  "projects:read",
  "projects:manage",
  "users:manage",
  "audit:read",
  "stats:read",
] as const;
export type Permission = (typeof PERMISSIONS)[number];
export const Permission = Type.Union(PERMISSIONS.map((p) => Type.Literal(p)));

export const ROLES = ["admin", "data_scientist", "labeler", "iot_engineer", "site_engineer", "safety_auditor"] as const;
export type Role = (typeof ROLES)[number];
export const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));

// `audit:read` is deliberately not among the plain reads: only auditors and admins see who did what.
const READS = PERMISSIONS.filter((p) => p.endsWith(":read") && p !== "audit:read");

/** What each role may do. The hub enforces this; the console only uses it to hide controls. */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: PERMISSIONS,
  data_scientist: [...READS, "samples:label", "datasets:manage", "runs:manage", "models:upload", "models:approve"],
  labeler: ["incidents:read", "samples:read", "samples:label", "projects:read"],
  iot_engineer: [
    "incidents:read",
    "models:read",
    "devices:read",
    "devices:manage",
    "deployments:read",
    "deployments:manage",
    "projects:read",
  ],
  site_engineer: ["incidents:read", "incidents:review", "devices:read", "projects:read"],
  safety_auditor: [...READS, "audit:read"],
};

/** The role's permissions in PERMISSIONS order. */
export function permissionsOf(role: Role): Permission[] {
  const granted = new Set(ROLE_PERMISSIONS[role]);
  return PERMISSIONS.filter((p) => granted.has(p));
}

export const PermissionMatrix = Type.Object({
  permissions: Type.Array(Permission),
  roles: Type.Record(Role, Type.Array(Permission)),
});
export type PermissionMatrix = Static<typeof PermissionMatrix>;
