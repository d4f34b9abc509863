import {
  type BundleTarget,
  type DeploymentPrecision,
  type DeploymentTargets,
  type DeviceTarget,
  KensaError,
  type ParityFigures,
  type Reported,
  type SelfTestReport,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import { int8Eligibility } from "./bundle-target.js";
import type { ModelLookup } from "./ports.js";

/** One device of a deployment as recorded: its bundle, the bundle's target and model file. */
export interface RecordedTarget extends DeviceTarget {
  modelSha256: string;
  modelSize: number;
}

/** Records which bundle and target each device of a deployment got, and the blobs each bundle pins. */
export async function recordTargets(
  trx: Kysely<HubDatabase>,
  deploymentId: string,
  targets: readonly RecordedTarget[],
  files: ReadonlyArray<{ bundleSha256: string; sha256: string; role: string; projectId: string }>,
): Promise<void> {
  for (const f of files) {
    await trx
      .insertInto("bundle_files")
      .values({ bundle_sha256: f.bundleSha256, sha256: f.sha256, project_id: f.projectId, role: f.role })
      .onConflict((oc) => oc.columns(["bundle_sha256", "sha256"]).doNothing())
      .execute();
  }
  for (const t of targets) {
    await trx
      .insertInto("deployment_targets")
      .values({
        deployment_id: deploymentId,
        device_id: t.deviceId,
        bundle_sha256: t.bundleSha256,
        arch: t.target.arch,
        precision: t.target.precision,
        runtime: t.target.runtime,
        model_sha256: t.modelSha256,
        model_size: t.modelSize,
      })
      .onConflict((oc) => oc.columns(["deployment_id", "device_id"]).doNothing())
      .execute();
  }
}

/** Every bundle a deployment gave some device (a deployment from before targets: none). */
export async function bundlesOfDeployments(db: Kysely<HubDatabase>, deploymentIds: readonly string[]) {
  if (deploymentIds.length === 0) return [];
  return db
    .selectFrom("deployment_targets")
    .select(["deployment_id", "device_id", "bundle_sha256"])
    .where("deployment_id", "in", [...deploymentIds])
    .execute();
}

/**
 * The bundle a device enrolled after a deployment inherits: the deployment's bundle for the
 * device's architecture when one was built, else one of its fp32 bundles, else the deployment's
 * own (its first device's).
 * Recorded as that device's target; null for a deployment made before targets.
 */
export async function inheritedTarget(
  trx: Kysely<HubDatabase>,
  deployment: { id: string; bundle_sha256: string },
  deviceId: string,
  arch: string,
): Promise<{ bundleSha256: string; modelSha256: string; modelSize: number } | null> {
  const rows = await trx
    .selectFrom("deployment_targets")
    .select(["bundle_sha256", "arch", "precision", "runtime", "model_sha256", "model_size"])
    .where("deployment_id", "=", deployment.id)
    .execute();
  // no bundle for its architecture: an fp32 one runs anywhere, else the deployment's own
  const pick =
    rows.find((r) => r.arch === arch) ??
    rows.find((r) => r.precision === "fp32") ??
    rows.find((r) => r.bundle_sha256 === deployment.bundle_sha256);
  if (!pick) return null;
  const recorded = {
    deviceId,
    bundleSha256: pick.bundle_sha256,
    target: toTarget(pick),
    modelSha256: pick.model_sha256,
    modelSize: pick.model_size,
  };
  await recordTargets(trx, deployment.id, [recorded], []);
  return recorded;
}

/** Whether a device of `projectId` may fetch blob `sha` because one of its project's bundles pins it. */
export async function pinnedByProjectBundle(db: Kysely<HubDatabase>, sha: string, projectId: string): Promise<boolean> {
  const row = await db
    .selectFrom("bundle_files")
    .select("sha256")
    .where("sha256", "=", sha)
    .where("project_id", "=", projectId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Stores the self-tests a reported state carries (the latest per device, pipeline and bundle). */
export async function recordSelfTests(db: Kysely<HubDatabase>, deviceId: string, reported: Reported): Promise<void> {
  for (const p of reported.pipelines) {
    const t = p.selfTest;
    if (!t) continue;
    const row = {
      arch: t.arch,
      precision: t.precision,
      status: t.status,
      report: JSON.stringify(t),
      reported_at: t.ts,
    };
    await db
      .insertInto("bundle_self_tests")
      .values({ device_id: deviceId, pipeline: p.id, bundle_sha256: t.bundleSha256, ...row })
      // every report repeats the last self-test: only a new one is written
      .onConflict((oc) =>
        oc
          .columns(["device_id", "pipeline", "bundle_sha256"])
          .doUpdateSet(row)
          .where("bundle_self_tests.reported_at", "<>", row.reported_at),
      )
      .execute();
  }
}

/** `GET /deployments/:id/targets`: each device's target and self-test, and the parity per architecture. */
export async function deploymentTargets(
  db: Kysely<HubDatabase>,
  models: ModelLookup,
  deploymentId: string,
): Promise<DeploymentTargets> {
  const dep = await db
    .selectFrom("deployments")
    .select(["id", "model_version_id", "pipeline", "precision"])
    .where("id", "=", deploymentId)
    .executeTakeFirst();
  if (!dep) throw new KensaError("KENSA_ERR_DEPLOYMENT_NOT_FOUND", `no deployment with id "${deploymentId}"`);
  const rows = await db
    .selectFrom("deployment_targets")
    .selectAll()
    .where("deployment_id", "=", dep.id)
    .orderBy("device_id")
    .execute();
  const tests = rows.length
    ? await db
        .selectFrom("bundle_self_tests")
        .select(["device_id", "bundle_sha256", "report"])
        .where("pipeline", "=", dep.pipeline)
        .where(
          "device_id",
          "in",
          rows.map((r) => r.device_id),
        )
        .execute()
    : [];
  const testOf = new Map(
    tests.map((t) => [`${t.device_id}|${t.bundle_sha256}`, JSON.parse(t.report) as SelfTestReport]),
  );
  const devices = rows.map((r) => ({
    deviceId: r.device_id,
    bundleSha256: r.bundle_sha256,
    target: toTarget(r),
    selfTest: testOf.get(`${r.device_id}|${r.bundle_sha256}`) ?? null,
  }));
  const groups = new Map<string, DeploymentTargets["byArch"][number]>();
  for (const d of devices) {
    const key = `${d.target.arch}/${d.target.precision}`;
    const g = groups.get(key) ?? {
      arch: d.target.arch,
      precision: d.target.precision,
      devices: 0,
      passed: 0,
      failed: 0,
      skipped: 0,
      pending: 0,
      worst: null,
    };
    g.devices++;
    const t = d.selfTest;
    if (!t) g.pending++;
    else {
      g[t.status]++;
      if (t.status !== "skipped") g.worst = worstOf(g.worst, t.figures);
    }
    groups.set(key, g);
  }
  const model = await models.get(dep.model_version_id);
  return {
    deploymentId: dep.id,
    precision: (dep.precision ?? "auto") as DeploymentPrecision,
    int8: await int8Eligibility(db, model),
    devices,
    byArch: [...groups.values()].sort((a, b) => `${a.arch}/${a.precision}`.localeCompare(`${b.arch}/${b.precision}`)),
    generatedAt: isoNow(),
  };
}

function toTarget(r: { arch: string; precision: string; runtime: string }): BundleTarget {
  return { arch: r.arch, precision: r.precision as BundleTarget["precision"], runtime: r.runtime };
}

/** the worse of each figure: the lowest agreement and IoUs, the largest score delta */
function worstOf(a: ParityFigures | null, b: ParityFigures): ParityFigures {
  if (!a) return { ...b };
  const low = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.min(x, y));
  const high = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.max(x, y));
  return {
    frames: Math.min(a.frames, b.frames),
    top1Agreement: low(a.top1Agreement, b.top1Agreement),
    maxScoreDelta: high(a.maxScoreDelta, b.maxScoreDelta),
    meanBoxIou: low(a.meanBoxIou, b.meanBoxIou),
    meanMaskIou: low(a.meanMaskIou, b.meanMaskIou),
  };
}
