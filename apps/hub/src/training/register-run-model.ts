import { isKensaError, KensaError, TrainerMetrics, type TrainingRun, trainerOutputs } from "@kensa/contracts";
import { Value } from "@sinclair/typebox/value";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import type { JobQueue } from "../jobs/job-queue.js";
import type { ModelService } from "../registry/model-service.js";
import type { RunService } from "./run-service.js";

export interface RegisterRunModelDeps {
  runs: RunService;
  models: ModelService;
  queue: JobQueue;
}

/**
 * Registers a finished run's model version — checked by ONNX Runtime against its manifest —
 * in one transaction with the run's completion and its gate job, whether the trainer ran on
 * this hub (outputs read from its folder) or on a worker (outputs read from the blob store).
 * `read` answers an output's bytes or null when the trainer left none; `onInsert` adds to the
 * transaction (a worker's job is ended in it, so a second completion rolls back).
 */
export async function registerRunModel(
  d: RegisterRunModelDeps,
  run: TrainingRun,
  read: (name: string) => Promise<Buffer | null>,
  log: (line: string) => void,
  onInsert?: (trx: Kysely<HubDatabase>) => Promise<void>,
): Promise<string> {
  const need = async (name: string) => {
    const bytes = await read(name);
    if (!bytes) {
      throw new KensaError(
        "KENSA_ERR_TRAINER_OUTPUT_INVALID",
        `the trainer exited 0 but wrote no ${name}; nothing was registered`,
      );
    }
    return bytes;
  };
  const manifest = (await need(trainerOutputs.manifest)).toString("utf8");
  const model = await need(trainerOutputs.model);
  const int8 = run.params.hyper.quantize ? await need(trainerOutputs.modelInt8) : null;
  let trainerMetrics: TrainingRun["trainerMetrics"] = null;
  const metrics = await read(trainerOutputs.metrics);
  if (metrics) {
    try {
      const m = JSON.parse(metrics.toString("utf8")) as unknown;
      if (Value.Check(TrainerMetrics, m)) {
        trainerMetrics = {
          primaryMetric: m.primaryMetric,
          val: m.val.primary,
          test: m.test?.primary ?? null,
          bestEpoch: m.bestEpoch,
          epochsRun: m.epochsRun,
          ...(m.stopReason ? { stopReason: m.stopReason } : {}),
        };
      } else log("[kensa] warning: metrics.json does not match the contract; ignored");
    } catch {
      log("[kensa] warning: metrics.json is not JSON; ignored");
    }
  }
  const current = await d.runs.get(run.id);
  try {
    const version = await d.models.register({
      projectId: run.projectId,
      manifest,
      bytes: new Uint8Array(model.buffer, model.byteOffset, model.byteLength),
      ...(int8 ? { int8Bytes: new Uint8Array(int8.buffer, int8.byteOffset, int8.byteLength) } : {}),
      source: `run:${run.id}`,
      lineage: {
        snapshotId: run.snapshotId,
        runId: run.id,
        trainer: run.trainer.name,
        trainerVersion: current.trainer.version,
        params: run.params as unknown as Record<string, unknown>,
        codeRevision: run.codeRevision,
      },
      onInsert: async (trx, v) => {
        await onInsert?.(trx);
        await d.runs.update(run.id, { trainerMetrics }, trx);
        await d.runs.finish(
          run.id,
          { status: "succeeded", exitCode: 0, modelVersionId: v.id, finishedAt: isoNow() },
          trx,
        );
        await d.queue.enqueue({ type: "gate", projectId: run.projectId, refId: v.id, payload: { runId: run.id } }, trx);
      },
    });
    return version.id;
  } catch (err) {
    if (
      isKensaError(err) &&
      ["KENSA_ERR_MODEL_INVALID_ONNX", "KENSA_ERR_MODEL_MANIFEST_MISMATCH", "KENSA_ERR_MANIFEST_INVALID"].includes(
        err.code,
      )
    ) {
      throw new KensaError(
        "KENSA_ERR_TRAINER_OUTPUT_INVALID",
        `the trainer's model was not registered: ${err.code}: ${err.message}`,
        { cause: err.code },
      );
    }
    throw err;
  }
}
