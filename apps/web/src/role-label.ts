import type { Role } from "@kensa/contracts";

// A Record over the contract's Role: the type checker fails here when the hub adds a role.
const labels: Record<Role, string> = {
  admin: "Administrator",
  data_scientist: "Data scientist",
  labeler: "Labeler",
  iot_engineer: "IoT engineer",
  site_engineer: "Site engineer",
  safety_auditor: "Safety auditor",
};

/** Every role, in the order the contract lists them. */
export const roles = Object.keys(labels) as Role[];

/** A role id as people say it. */
export function roleLabel(role: Role): string {
  return labels[role] ?? role;
}
