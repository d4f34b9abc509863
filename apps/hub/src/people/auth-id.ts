import { randomBytes } from "node:crypto";

/** Ids of users and API tokens, typed like ids.ts's (`usr_…`, `tok_…`). */
export function authId(prefix: "usr" | "tok"): string {
  return `${prefix}_${randomBytes(12).toString("base64url")}`;
}
