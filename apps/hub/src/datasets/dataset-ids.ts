import { randomBytes } from "node:crypto";

/** Random ids with a type prefix, like the hub's other ids: samples, label revisions, imports, exports. */
export function newDatasetId(prefix: "smp" | "lrv" | "imp" | "exp"): string {
  return `${prefix}_${randomBytes(12).toString("base64url")}`;
}
