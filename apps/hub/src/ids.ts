import { randomBytes } from "node:crypto";

/** Random ids with a short type prefix (`prj_…`), so a pasted id says what it names. */
export function newId(prefix: "prj" | "mdl" | "dep" | "inc" | "vrd" | "ntf" | "rol" | "srl" | "scm"): string {
  return `${prefix}_${randomBytes(12).toString("base64url")}`;
}
