import type { IncidentStatus } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { HubDatabase, IncidentsTable } from "../db/schema.js";
import { decodeCursor, encodeCursor, type Page, pageOf, storedInstant } from "./keyset-cursor.js";

export interface IncidentQuery {
  projectId?: string;
  deviceId?: string;
  status?: IncidentStatus;
  label?: string;
  /** a site's incidents on central; "local": the hub's own (no site) */
  siteId?: string;
  /** the caller's site scope: only these sites' incidents (null or absent: no limit) */
  sites?: readonly string[] | null;
  /** inclusive lower bound on `createdAt` */
  from?: string;
  /** exclusive upper bound on `createdAt` */
  to?: string;
  /** the `nextCursor` of the previous page */
  cursor?: string;
  limit: number;
}

const ORDER = "newest";

/**
 * One page of incident rows, newest first (created_at, id descending). Indexes in that order
 * (migration 0009) serve a project alone or with a status or a label, a device, a status, and no
 * filter at all, so a page reads `limit + 1` index entries however deep it is; other filters
 * given together narrow the rows the chosen index walks.
 */
export async function listIncidentRows(
  db: Kysely<HubDatabase>,
  query: IncidentQuery,
): Promise<Page<Selectable<IncidentsTable>>> {
  let q = db.selectFrom("incidents").selectAll();
  if (query.projectId !== undefined) q = q.where("project_id", "=", query.projectId);
  if (query.deviceId !== undefined) q = q.where("device_id", "=", query.deviceId);
  if (query.status !== undefined) q = q.where("status", "=", query.status);
  if (query.label !== undefined) q = q.where("label", "=", query.label);
  if (query.siteId === "local") q = q.where("site_id", "is", null);
  else if (query.siteId !== undefined) q = q.where("site_id", "=", query.siteId);
  if (query.sites) {
    // an empty scope sees nothing (`IN ()` is not valid SQL)
    const scope = query.sites.length ? [...query.sites] : [""];
    q = q.where("site_id", "in", scope);
  }
  if (query.from !== undefined) q = q.where("created_at", ">=", storedInstant(query.from, "from"));
  let to = query.to === undefined ? undefined : storedInstant(query.to, "to");
  if (query.cursor !== undefined) {
    const [at, id] = decodeCursor<[string, string]>(query.cursor, ORDER, ["string", "string"]);
    // (created_at, id) < (at, id) as a range the index walks (see `listEvents`)
    q = q.where("created_at", "<=", at).where((eb) => eb.or([eb("created_at", "<", at), eb("id", "<", id)]));
    if (to !== undefined && at < to) to = undefined;
  }
  if (to !== undefined) q = q.where("created_at", "<", to);
  const rows = await q
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(query.limit + 1)
    .execute();
  return pageOf(
    rows,
    query.limit,
    (r) => r,
    (r) => encodeCursor(ORDER, [r.created_at, r.id]),
  );
}
