import { KensaError } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { StoredDesired } from "../fleet/desired-state.js";
import { LIVE_STATES, type RolloutStore } from "./rollout-store.js";

/** The devices in service a rollout's target names (ids, tags; neither: the whole project), with their desired state. */
export async function targetDevices(
  db: Kysely<HubDatabase>,
  projectId: string,
  target: { deviceIds: string[]; tags: string[] },
): Promise<Array<{ id: string; desired: StoredDesired | null }>> {
  const rows = await db
    .selectFrom("devices")
    .select(["id", "tags", "retired_at", "desired"])
    .where("project_id", "=", projectId)
    .where("deleted_at", "is", null)
    .execute();
  const known = new Map(rows.map((r) => [r.id, r]));
  const missing = target.deviceIds.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw new KensaError("KENSA_ERR_DEVICE_NOT_FOUND", `no device ${missing.join(", ")} in this project`, {
      deviceIds: missing,
    });
  }
  const retired = target.deviceIds.filter((id) => known.get(id)?.retired_at);
  if (retired.length > 0) {
    throw new KensaError("KENSA_ERR_DEVICE_RETIRED", `device ${retired.join(", ")} is retired`, {
      deviceIds: retired,
    });
  }
  const everyone = target.deviceIds.length === 0 && target.tags.length === 0;
  const picked = rows.filter(
    (r) =>
      !r.retired_at &&
      (everyone ||
        target.deviceIds.includes(r.id) ||
        (JSON.parse(r.tags) as string[]).some((t) => target.tags.includes(t))),
  );
  if (picked.length === 0) {
    throw new KensaError("KENSA_ERR_DEPLOYMENT_NO_TARGETS", "no device in service matches the rollout's target");
  }
  return picked.map((r) => ({ id: r.id, desired: r.desired ? (JSON.parse(r.desired) as StoredDesired) : null }));
}

/** Refuses a rollout whose devices another live rollout of the pipeline still holds. */
export async function checkConflict(
  store: RolloutStore,
  projectId: string,
  pipeline: string,
  deviceIds: readonly string[],
): Promise<void> {
  const mine = new Set(deviceIds);
  for (const other of await store.list({ projectId, states: LIVE_STATES })) {
    if (other.pipeline !== pipeline) continue;
    const shared = other.waves.flatMap((w) => w.deviceIds).filter((id) => mine.has(id));
    if (shared.length > 0) {
      throw new KensaError(
        "KENSA_ERR_ROLLOUT_CONFLICT",
        `rollout ${other.id} (${other.state}) still holds pipeline ${pipeline} on ${shared.length} of these devices; finish, roll back or abort it first`,
        { rolloutId: other.id, deviceIds: shared.slice(0, 20) },
      );
    }
  }
}
