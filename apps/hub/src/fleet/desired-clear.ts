import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { emptyDesired, type StoredDesired, withShadow } from "./desired-state.js";

/**
 * Takes a pipeline's bundle (or only its shadow) off these devices' desired state: a rollout
 * sending back devices that ran nothing on the pipeline before it. Other pipelines stay as they
 * are. Returns the devices whose desired state changed.
 */
export async function clearPipeline(
  db: Kysely<HubDatabase>,
  o: { deviceIds: readonly string[]; pipeline: string; role: "bundle" | "shadow"; now: string },
): Promise<string[]> {
  const changed: string[] = [];
  await db.transaction().execute(async (trx) => {
    for (const id of o.deviceIds) {
      const cur = await trx
        .selectFrom("devices")
        .select(["desired", "desired_rev", "created_at"])
        .where("id", "=", id)
        .executeTakeFirst();
      if (!cur) continue;
      const stored = cur.desired ? (JSON.parse(cur.desired) as StoredDesired) : emptyDesired(cur.created_at);
      const entry = stored.pipelines.find((p) => p.id === o.pipeline);
      if (!entry || (o.role === "shadow" ? !entry.shadow : !entry.bundle)) continue;
      const next: StoredDesired =
        o.role === "shadow"
          ? withShadow(stored, o.pipeline, null, stored.deploymentId ?? "", o.now)
          : { ...stored, updatedAt: o.now, pipelines: stored.pipelines.filter((p) => p.id !== o.pipeline) };
      await trx
        .updateTable("devices")
        .set({ desired: JSON.stringify(next), desired_rev: cur.desired_rev + 1 })
        .where("id", "=", id)
        .execute();
      changed.push(id);
    }
  });
  return changed;
}
