import type { Champion, TrainingRun, TrainingSettings } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/**
 * The ports the registry owns. Training implements both: the registry decides on models, the
 * project's training settings say by which rules, and a model's run is part of its lineage.
 */

/** A project's model policy (gate criteria, evaluation snapshot, auto-deploy target) and its champion. */
export interface ModelPolicy {
  get(projectId: string, db?: Kysely<HubDatabase>): Promise<TrainingSettings>;
  champion(projectId: string, db?: Kysely<HubDatabase>): Promise<Champion>;
  /** inside the approval's transaction */
  setChampion(trx: Kysely<HubDatabase>, projectId: string, modelVersionId: string | null): Promise<void>;
}

/** The training run that produced a model, for its card and lineage. */
export interface RunLookup {
  get(runId: string): Promise<TrainingRun>;
}
