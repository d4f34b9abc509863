import { type DeviceConfig, type DeviceConfigRevision, deviceConfigSha256, mergeDeviceConfig } from "@kensa/contracts";
import type { Kysely, Selectable, Transaction } from "kysely";
import { isoNow } from "../clock.js";
import type { DeviceConfigRevisionsTable, HubDatabase } from "../db/schema.js";

/**
 * Device configs in the database: revisions per device and per project, and what each device
 * is sent (its merge). The service and the desired-state sync both read from here.
 */
export type Scope = "device" | "project";
export type Db = Kysely<HubDatabase> | Transaction<HubDatabase>;

export async function latest(db: Db, scope: Scope, id: string): Promise<DeviceConfigRevision | null> {
  const row = await db
    .selectFrom("device_config_revisions")
    .selectAll()
    .where("scope", "=", scope)
    .where("scope_id", "=", id)
    .orderBy("rev", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? toRevision(row) : null;
}

export async function append(
  trx: Db,
  scope: Scope,
  id: string,
  config: DeviceConfig,
  meta: { comment?: string | undefined; actor: string | null },
): Promise<DeviceConfigRevision> {
  const rev = ((await latest(trx, scope, id))?.rev ?? 0) + 1;
  const row = {
    scope,
    scope_id: id,
    rev,
    config: JSON.stringify(config),
    sha256: deviceConfigSha256(config),
    comment: meta.comment ?? null,
    created_at: isoNow(),
    created_by: meta.actor,
  };
  await trx.insertInto("device_config_revisions").values(row).execute();
  return toRevision(row);
}

/** Recomputes what a device is sent; returns its new delivered rev, or null when the merge did not change. */
export async function refreshDelivery(
  trx: Db,
  deviceId: string,
  project: DeviceConfig | null,
  own: DeviceConfig | null,
): Promise<number | null> {
  if (!project && !own) return null;
  const merged = mergeDeviceConfig(project ?? {}, own ?? {});
  const sha256 = deviceConfigSha256(merged);
  const cur = await trx
    .selectFrom("device_config_delivery")
    .select(["rev", "sha256"])
    .where("device_id", "=", deviceId)
    .executeTakeFirst();
  if (cur?.sha256 === sha256) return null;
  const row = { rev: (cur?.rev ?? 0) + 1, sha256, config: JSON.stringify(merged), updated_at: isoNow() };
  if (cur) await trx.updateTable("device_config_delivery").set(row).where("device_id", "=", deviceId).execute();
  else
    await trx
      .insertInto("device_config_delivery")
      .values({ device_id: deviceId, ...row })
      .execute();
  return row.rev;
}

export function toRevision(r: Selectable<DeviceConfigRevisionsTable>): DeviceConfigRevision {
  return {
    scope: r.scope as Scope,
    scopeId: r.scope_id,
    rev: r.rev,
    config: JSON.parse(r.config) as DeviceConfig,
    sha256: r.sha256,
    comment: r.comment,
    createdAt: r.created_at,
    createdBy: r.created_by,
  };
}

/**
 * The `config` of a device's desired state: the revision and sha256 it is sent, or none. A
 * device enrolled after its project's default was set gets that default here, as its rev 1.
 */
export async function deliveredConfigRef(
  db: Kysely<HubDatabase>,
  deviceId: string,
): Promise<{ rev: number; sha256: string } | undefined> {
  const select = () =>
    db
      .selectFrom("device_config_delivery")
      .select(["rev", "sha256"])
      .where("device_id", "=", deviceId)
      .executeTakeFirst();
  const row = await select();
  if (row) return { rev: row.rev, sha256: row.sha256 };
  // one query for the common case of no config anywhere: the project default of the device's project
  const project = await db
    .selectFrom("devices")
    .innerJoin("device_config_revisions as r", (j) =>
      j.onRef("r.scope_id", "=", "devices.project_id").on("r.scope", "=", "project"),
    )
    .select(["r.config", "r.rev"])
    .where("devices.id", "=", deviceId)
    .orderBy("r.rev", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!project) return undefined;
  try {
    const own = (await latest(db, "device", deviceId))?.config ?? null;
    await refreshDelivery(db, deviceId, JSON.parse(project.config) as DeviceConfig, own);
  } catch {
    // a config write for this device got there first (primary key): its row stands
  }
  const made = await select();
  return made ? { rev: made.rev, sha256: made.sha256 } : undefined;
}
