import type { Kysely, Selectable } from "kysely";
import type { DeploymentsTable, HubDatabase } from "../db/schema.js";
import { emptyDesired, type StoredDesired, withPipeline } from "./desired-state.js";

type DeploymentRow = Selectable<DeploymentsTable>;

/** A tag deployment a device took because its tags changed. */
export interface AppliedDeployment {
  deploymentId: string;
  pipeline: string;
  modelVersionId: string;
}

/**
 * Re-evaluates a device's tag-targeted deployments after its tags changed, inside `trx`.
 *
 * Per pipeline: the deployment the old tags selected (the latest naming one of them) is
 * compared with the one the new tags select. When they differ and the new one exists, the
 * device takes it, unless a deployment made after it already targets the device for that
 * pipeline (a canary by device id stays). Losing every tag of a pipeline takes no model away:
 * the device keeps running what it has until a deployment targets it. The device is recorded
 * on each deployment it takes, as at enrolment.
 */
export async function applyTagChange(
  trx: Kysely<HubDatabase>,
  device: { id: string; projectId: string },
  before: readonly string[],
  after: readonly string[],
  now: string,
): Promise<AppliedDeployment[]> {
  const rows = await trx
    .selectFrom("deployments")
    .selectAll()
    .where("project_id", "=", device.projectId)
    .orderBy("created_at", "asc")
    .orderBy("id", "asc")
    .execute();
  const was = latestPerPipeline(rows, before);
  const selected = latestPerPipeline(rows, after);
  const current = new Map<string, DeploymentRow>();
  for (const r of rows) if ((JSON.parse(r.device_ids) as string[]).includes(device.id)) current.set(r.pipeline, r);

  const take: DeploymentRow[] = [];
  for (const [pipeline, next] of selected) {
    const prev = was.get(pipeline);
    if (prev?.id === next.id) continue;
    const cur = current.get(pipeline);
    if (cur && cur.id !== prev?.id && cur.created_at > next.created_at) continue;
    if (cur?.id === next.id) continue;
    take.push(next);
  }
  if (take.length === 0) return [];

  const row = await trx
    .selectFrom("devices")
    .select(["desired", "desired_rev", "created_at"])
    .where("id", "=", device.id)
    .executeTakeFirstOrThrow();
  let desired: StoredDesired = row.desired ? (JSON.parse(row.desired) as StoredDesired) : emptyDesired(row.created_at);
  const applied: AppliedDeployment[] = [];
  for (const dep of take) {
    const model = await trx
      .selectFrom("model_versions")
      .select(["id", "sha256", "size"])
      .where("id", "=", dep.model_version_id)
      .executeTakeFirstOrThrow();
    desired = withPipeline(
      desired,
      dep.pipeline,
      { sha256: dep.bundle_sha256, modelVersionId: model.id, modelSha256: model.sha256, size: Number(model.size) },
      dep.id,
      now,
    );
    const ids = JSON.parse(dep.device_ids) as string[];
    if (!ids.includes(device.id)) {
      await trx
        .updateTable("deployments")
        .set({ device_ids: JSON.stringify([...ids, device.id]) })
        .where("id", "=", dep.id)
        .execute();
    }
    applied.push({ deploymentId: dep.id, pipeline: dep.pipeline, modelVersionId: dep.model_version_id });
  }
  await trx
    .updateTable("devices")
    .set({ desired: JSON.stringify(desired), desired_rev: Number(row.desired_rev) + 1 })
    .where("id", "=", device.id)
    .execute();
  return applied;
}

/** Per pipeline, the latest deployment (rows oldest first) whose target names one of `tags`. */
function latestPerPipeline(rows: readonly DeploymentRow[], tags: readonly string[]): Map<string, DeploymentRow> {
  const latest = new Map<string, DeploymentRow>();
  if (tags.length === 0) return latest;
  for (const r of rows) {
    const target = JSON.parse(r.target) as { tags: string[] };
    if (target.tags.some((t) => tags.includes(t))) latest.set(r.pipeline, r);
  }
  return latest;
}
