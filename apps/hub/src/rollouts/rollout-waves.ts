import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import type { DeploymentService } from "../fleet/deployment-service.js";
import { eventSeqs, reportedOf } from "./rollout-signals.js";
import type { StoredRollout } from "./rollout-store.js";

interface WaveDeps {
  db: Kysely<HubDatabase>;
  deployments: DeploymentService;
}

/**
 * Deploys wave `index` and opens its window: from now, what its devices and the control do is
 * the evidence. The last wave of a rollout by tag deploys to the tag itself, so a device
 * enrolled later with it inherits the new version; a shadow is never inherited.
 */
export async function startWave(d: WaveDeps, r: StoredRollout, index: number): Promise<boolean> {
  const wave = r.waves[index]!;
  const last = index === r.waves.length - 1;
  // devices retired or deleted since the rollout was planned are left out; a wave left empty is passed over
  const live = await inService(d.db, wave.deviceIds);
  wave.deviceIds = live;
  if (live.length === 0) {
    wave.state = "passed";
    wave.startedAt = wave.endedAt = isoNow();
    wave.gates = [];
    r.currentWave = index;
    return false;
  }
  const tags = last && r.mode === "deploy" ? r.target.tags : [];
  const dep = await d.deployments.create({
    modelVersionId: r.modelVersionId,
    pipeline: r.pipeline,
    target: { deviceIds: wave.deviceIds, tags },
    precision: r.precision,
    ...(r.mode === "shadow" ? { shadow: true } : {}),
  });
  const inWave = new Set(wave.deviceIds);
  const everyone = r.waves.flatMap((w) => w.deviceIds);
  const reported = await reportedOf(d.db, wave.deviceIds);
  wave.deploymentId = dep.id;
  wave.bundleShas = [...new Set((dep.targets ?? []).filter((t) => inWave.has(t.deviceId)).map((t) => t.bundleSha256))];
  if (wave.bundleShas.length === 0) wave.bundleShas = [dep.bundleSha256];
  // the window of the wave and of the control opens at each device's latest stored event
  wave.fromSeq = await eventSeqs(d.db, everyone);
  wave.restartsAtStart = Object.fromEntries(
    wave.deviceIds.map((id) => [
      id,
      reported.get(id)?.pipelines.find((p) => p.id === r.pipeline)?.session?.restarts ?? 0,
    ]),
  );
  wave.state = "baking";
  wave.startedAt = isoNow();
  wave.endedAt = null;
  wave.gates = [];
  wave.evaluatedAt = null;
  r.currentWave = index;
  return true;
}

async function inService(db: Kysely<HubDatabase>, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom("devices")
    .select("id")
    .where("id", "in", [...ids])
    .where("retired_at", "is", null)
    .where("deleted_at", "is", null)
    .execute();
  const keep = new Set(rows.map((r) => r.id));
  return ids.filter((id) => keep.has(id));
}

/**
 * Sends devices back to what their pipeline ran (or shadowed) before the rollout: a deployment
 * of that version per group, whose bundle the agent still keeps, so the switch is immediate and
 * needs no download; devices that ran nothing there have the pipeline (or shadow) taken off.
 */
export async function restoreDevices(d: WaveDeps, r: StoredRollout, deviceIds: readonly string[]): Promise<void> {
  const groups = new Map<string | null, string[]>();
  for (const id of deviceIds) {
    const prev = r.previous[id]?.modelVersionId ?? null;
    groups.set(prev, [...(groups.get(prev) ?? []), id]);
  }
  const role = r.mode === "shadow" ? "shadow" : "bundle";
  for (const [modelVersionId, ids] of groups) {
    if (modelVersionId === null) {
      await d.deployments.clear({ deviceIds: ids, pipeline: r.pipeline, role });
      continue;
    }
    await d.deployments.create({
      modelVersionId,
      pipeline: r.pipeline,
      target: { deviceIds: ids, tags: [] },
      ...(role === "shadow" ? { shadow: true } : {}),
    });
  }
}
