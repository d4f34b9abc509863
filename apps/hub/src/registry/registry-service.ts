import { randomBytes } from "node:crypto";
import {
  type Approval,
  type ApprovalAction,
  type Decide,
  type DecideReply,
  type Deployment,
  type GateReport,
  KensaError,
  type ModelDetails,
  type ModelVersion,
} from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { SnapshotService } from "../datasets/snapshot-service.js";
import type { ApprovalsTable, GateReportsTable, HubDatabase } from "../db/schema.js";
import type { DeploymentService } from "../fleet/deployment-service.js";
import type { ProjectService } from "../projects/project-service.js";
import type { EvaluationService } from "./evaluation/evaluation-service.js";
import { modelCard } from "./model-card.js";
import type { ModelService } from "./model-service.js";
import type { ModelPolicy, RunLookup } from "./ports.js";

type Stage = ModelVersion["stage"];

/** Which stages each action may start from (see docs/training.md, "Stages"). */
const FROM: Record<ApprovalAction, readonly Stage[]> = {
  // approving an approved, rejected or archived version makes it the champion again (a rollback)
  approve: ["candidate", "approved", "rejected", "archived"],
  reject: ["candidate", "approved"],
  archive: ["candidate", "approved", "rejected"],
};
const TO: Record<ApprovalAction, Stage> = { approve: "approved", reject: "rejected", archive: "archived" };

export interface RegistryServiceDeps {
  db: Kysely<HubDatabase>;
  models: ModelService;
  settings: ModelPolicy;
  deployments: DeploymentService;
  evaluations: EvaluationService;
  runs: RunLookup;
  projects: ProjectService;
  snapshots: SnapshotService;
  log: FastifyBaseLogger;
}

/**
 * Stages, approvals and the champion. Approving moves the project's champion pointer to the
 * version and archives nothing (the previous champion stays approved, ready for a rollback);
 * the champion itself can be neither rejected nor archived until another version is approved.
 */
export class RegistryService {
  #d: RegistryServiceDeps;

  constructor(deps: RegistryServiceDeps) {
    this.#d = deps;
  }

  /** A person's decision: approve (→ champion, then deploy to autoDeploy targets), reject, archive. */
  async decide(
    modelVersionId: string,
    action: ApprovalAction,
    input: Partial<Decide> & Pick<Decide, "by" | "reason">,
  ): Promise<DecideReply> {
    await this.#d.db
      .transaction()
      .execute((trx) => this.transition(trx, modelVersionId, action, input.by, input.reason));
    const model = await this.get(modelVersionId);
    if (action !== "approve" || input.deploy === false) return { model, deployment: null, deploymentError: null };
    try {
      return { model, deployment: await this.autoDeploy(model), deploymentError: null };
    } catch (err) {
      // the approval stands; the reply says why the rollout did not follow
      this.#d.log.warn({ err, model: model.id }, "deploying an approved model failed");
      const e = err as { code?: string; message?: string };
      return {
        model,
        deployment: null,
        deploymentError: { code: e.code ?? "KENSA_ERR_INTERNAL", message: e.message ?? String(err) },
      };
    }
  }

  /** Checks and applies a stage change with its approval record, inside `trx`. */
  async transition(
    trx: Kysely<HubDatabase>,
    modelVersionId: string,
    action: ApprovalAction,
    by: string,
    reason: string,
  ): Promise<void> {
    const model = await this.#d.models.get(modelVersionId, trx);
    const champion = (await this.#d.settings.champion(model.projectId, trx)).modelVersionId;
    if (!FROM[action].includes(model.stage)) {
      throw new KensaError(
        "KENSA_ERR_MODEL_STAGE_CONFLICT",
        `cannot ${action} model version ${model.id}: it is ${model.stage}`,
      );
    }
    if (action !== "approve" && champion === model.id) {
      throw new KensaError(
        "KENSA_ERR_MODEL_STAGE_CONFLICT",
        `model version ${model.id} is the champion of its project; approve another version before you ${action} it`,
      );
    }
    const row: ApprovalsTable = {
      id: `apr_${randomBytes(12).toString("base64url")}`,
      model_version_id: model.id,
      action,
      decided_by: by,
      reason,
      from_stage: model.stage,
      to_stage: TO[action],
      created_at: isoNow(),
    };
    await trx.insertInto("approvals").values(row).execute();
    await this.#d.models.setStage(trx, model.id, TO[action]);
    if (action === "approve") await this.#d.settings.setChampion(trx, model.projectId, model.id);
  }

  /** Deploys an approved model to its project's autoDeploy targets; null when it has none. */
  async autoDeploy(model: ModelVersion): Promise<Deployment | null> {
    const target = (await this.#d.settings.get(model.projectId)).autoDeploy;
    if (!target || (target.tags.length === 0 && target.deviceIds.length === 0)) return null;
    return this.#d.deployments.create({
      modelVersionId: model.id,
      pipeline: target.pipeline,
      target: { tags: target.tags, deviceIds: target.deviceIds },
    });
  }

  /** a model version (with its `champion` flag) */
  get(id: string): Promise<ModelVersion> {
    return this.#d.models.get(id);
  }

  async approvals(modelVersionId: string): Promise<Approval[]> {
    const rows = await this.#d.db
      .selectFrom("approvals")
      .selectAll()
      .where("model_version_id", "=", modelVersionId)
      .orderBy("created_at", "asc")
      .execute();
    return rows.map(toApproval);
  }

  /** the latest gate report of a model version, or null */
  async gate(modelVersionId: string): Promise<GateReport | null> {
    const row = await this.#d.db
      .selectFrom("gate_reports")
      .selectAll()
      .where("model_version_id", "=", modelVersionId)
      .orderBy("created_at", "desc")
      .executeTakeFirst();
    return row ? toGateReport(row) : null;
  }

  /** The model card (Markdown), generated from lineage, the gate's evaluation and its report. */
  async card(modelVersionId: string): Promise<string> {
    const d = await this.details(modelVersionId);
    const model = await this.get(modelVersionId);
    const project = await this.#d.projects.get(model.projectId);
    const snapshot = async (id: string | null | undefined) =>
      id ? await this.#d.snapshots.get(id).catch(() => null) : null;
    const evaluation =
      (d.gate && d.evaluations.find((e) => e.snapshotId === d.gate!.snapshotId && e.metrics)) ??
      d.evaluations.find((e) => e.metrics) ??
      d.evaluations[0] ??
      null;
    return modelCard({
      model,
      project,
      run: d.run,
      trainSnapshot: await snapshot(model.lineage?.snapshotId),
      evaluation,
      evaluationSnapshot: await snapshot(evaluation?.snapshotId),
      gate: d.gate,
      approvals: d.approvals,
    });
  }

  async details(modelVersionId: string): Promise<ModelDetails> {
    const model = await this.get(modelVersionId);
    const runId = model.lineage?.runId;
    return {
      modelVersionId: model.id,
      champion: model.champion ?? false,
      run: runId ? await this.#d.runs.get(runId).catch(() => null) : null,
      evaluations: await this.#d.evaluations.list(model.id),
      gate: await this.gate(model.id),
      approvals: await this.approvals(model.id),
    };
  }
}

function toApproval(r: Selectable<ApprovalsTable>): Approval {
  return {
    id: r.id,
    modelVersionId: r.model_version_id,
    action: r.action as ApprovalAction,
    by: r.decided_by,
    reason: r.reason,
    fromStage: r.from_stage,
    toStage: r.to_stage,
    createdAt: r.created_at,
  };
}

export function toGateReport(r: Selectable<GateReportsTable>): GateReport {
  return {
    id: r.id,
    modelVersionId: r.model_version_id,
    championId: r.champion_id,
    snapshotId: r.snapshot_id,
    criteria: JSON.parse(r.criteria) as GateReport["criteria"],
    results: JSON.parse(r.results) as GateReport["results"],
    decision: r.decision as GateReport["decision"],
    reason: r.reason,
    ...(r.reason_code ? { reasonCode: r.reason_code } : {}),
    ...(r.evidence ? { evidence: JSON.parse(r.evidence) as GateReport["evidence"] } : {}),
    deploymentId: r.deployment_id,
    createdAt: r.created_at,
  };
}
