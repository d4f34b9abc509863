import { randomBytes } from "node:crypto";
import type { Evaluation, GateCriterionResult, GateEvidence, GateReport, MetricSummary } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { GateReportsTable, HubDatabase } from "../db/schema.js";
import type { ClaimedJob, JobEnd, JobQueue } from "../jobs/job-queue.js";
import type { JobHandler } from "../jobs/job-worker.js";
import type { AuditLog } from "../people/audit-log.js";
import { decideGate } from "./decide-gate.js";
import type { EvaluationService } from "./evaluation/evaluation-service.js";
import type { SampleOutcomes } from "./evaluation/sample-outcomes.js";
import { gateEvidence, resolveCriteria } from "./gate-evidence.js";
import type { ModelService } from "./model-service.js";
import type { ModelPolicy } from "./ports.js";
import { type RegistryService, toGateReport } from "./registry-service.js";

/** who the gate's own approvals and rejections are recorded as */
export const GATE_ACTOR = "gate";

export interface GateServiceDeps {
  db: Kysely<HubDatabase>;
  models: ModelService;
  settings: ModelPolicy;
  evaluations: EvaluationService;
  registry: RegistryService;
  queue: JobQueue;
  kick: () => void;
  log: FastifyBaseLogger;
  audit?: AuditLog;
}

/**
 * Champion vs challenger on one frozen evaluation snapshot: evaluates both (stored evaluations
 * are reused), decides with the project's criteria, records the report, applies the decision
 * to a candidate (approve → champion, reject) in the same transaction, and deploys an
 * auto-approved model to the project's autoDeploy targets.
 */
export class GateService {
  #d: GateServiceDeps;

  constructor(deps: GateServiceDeps) {
    this.#d = deps;
  }

  /** queues a gate decision for a model version (uploaded models, or again after new criteria) */
  async request(modelVersionId: string, snapshotId?: string): Promise<{ jobId: string }> {
    const model = await this.#d.models.get(modelVersionId);
    if (snapshotId) await this.#d.evaluations.snapshotFor(model, snapshotId);
    const job = await this.#d.queue.enqueue({
      type: "gate",
      projectId: model.projectId,
      refId: model.id,
      payload: snapshotId ? { snapshotId } : {},
    });
    this.#d.kick();
    return { jobId: job.id };
  }

  handler(): JobHandler {
    return {
      type: "gate",
      run: async (job: ClaimedJob, signal: AbortSignal): Promise<JobEnd> => {
        try {
          const payload = (job.payload ?? {}) as { snapshotId?: string };
          await this.decide(job.refId, payload.snapshotId, signal);
          return { status: "succeeded" };
        } catch (err) {
          if (signal.aborted && signal.reason === "shutdown") return { status: "queued" };
          throw err;
        }
      },
    };
  }

  async decide(modelVersionId: string, snapshotId?: string, signal?: AbortSignal): Promise<GateReport> {
    const { evaluations, settings, registry } = this.#d;
    const model = await this.#d.models.get(modelVersionId);
    const snap = await evaluations.snapshotFor(model, snapshotId);
    const criteria = resolveCriteria((await settings.get(model.projectId)).gate);
    const championId = (await settings.champion(model.projectId)).modelVersionId;
    const extra: GateCriterionResult[] = [];

    // per-sample outcomes come with each evaluation: the comparison is paired on the same samples
    const mine = await evaluations.ensureWithOutcomes(model.id, snap, signal);
    const challengerEval = mine.evaluation;
    let champion: MetricSummary | null = null;
    let championOutcomes: SampleOutcomes | null = null;
    const comparedTo = championId && championId !== model.id ? championId : null;
    if (comparedTo) {
      const theirs = await evaluations.ensureWithOutcomes(comparedTo, snap, signal);
      if (theirs.evaluation.metrics) {
        champion = theirs.evaluation.metrics;
        championOutcomes = theirs.outcomes;
      } else extra.push(failedEvaluation("champion_evaluation", theirs.evaluation));
    }
    let outcome: ReturnType<typeof decideGate>;
    let evidence: GateEvidence | null = null;
    if (!challengerEval.metrics) {
      const results = [...extra, failedEvaluation("evaluation", challengerEval)];
      outcome = {
        results,
        decision: "awaiting_approval",
        reason: "the challenger could not be evaluated; a person decides",
        reasonCode: "evaluation_failed",
      };
    } else {
      const ev = gateEvidence({
        criteria,
        challenger: mine.outcomes,
        champion: championOutcomes,
        hasChampion: champion !== null,
      });
      evidence = ev.evidence;
      outcome = decideGate({
        criteria,
        challenger: challengerEval.metrics,
        champion,
        extra,
        evidence: ev.evidence,
        evidenceUnavailable: ev.unavailable,
      });
    }
    const row: GateReportsTable = {
      id: `gat_${randomBytes(12).toString("base64url")}`,
      project_id: model.projectId,
      model_version_id: model.id,
      champion_id: comparedTo,
      snapshot_id: snap,
      criteria: JSON.stringify(criteria),
      results: JSON.stringify(outcome.results),
      decision: outcome.decision,
      reason: outcome.reason,
      deployment_id: null,
      created_at: isoNow(),
      evidence: evidence ? JSON.stringify(evidence) : null,
      reason_code: outcome.reasonCode,
    };
    // the decision touches only a candidate: a person's earlier approval or rejection stands
    const apply = model.stage === "candidate" && outcome.decision !== "awaiting_approval";
    await this.#d.db.transaction().execute(async (trx) => {
      await trx.insertInto("gate_reports").values(row).execute();
      if (apply) {
        const action = outcome.decision === "auto_approved" ? "approve" : "reject";
        await registry.transition(trx, model.id, action, GATE_ACTOR, `gate: ${outcome.reason}`);
        await this.#d.audit?.record(
          {
            actor: GATE_ACTOR,
            actorKind: "system",
            action: `model.${action}`,
            target: { type: "model", id: model.id },
            details: { projectId: model.projectId, reason: outcome.reason, gateReportId: row.id },
          },
          trx,
        );
      }
    });
    if (apply && outcome.decision === "auto_approved") {
      try {
        const dep = await registry.autoDeploy(await this.#d.models.get(model.id));
        if (dep) {
          row.deployment_id = dep.id;
          await this.#d.db
            .updateTable("gate_reports")
            .set({ deployment_id: dep.id })
            .where("id", "=", row.id)
            .execute();
        }
      } catch (err) {
        const msg = (err as Error).message;
        this.#d.log.warn({ err, model: model.id }, "auto-deploy of an approved model failed");
        row.reason = `${row.reason}; auto-deploy failed: ${msg}`;
        await this.#d.db.updateTable("gate_reports").set({ reason: row.reason }).where("id", "=", row.id).execute();
      }
    }
    return toGateReport(row);
  }
}

function failedEvaluation(name: string, e: Evaluation): GateCriterionResult {
  return {
    name,
    description: "the model could be evaluated on the snapshot",
    hard: false,
    threshold: null,
    champion: null,
    challenger: null,
    pass: false,
    note: e.error ? `${e.error.code}: ${e.error.message}` : `evaluation ${e.status}`,
  };
}
