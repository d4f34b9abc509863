import {
  type CreateRun,
  type RunHyper,
  type RunParams,
  type SnapshotManifest,
  TrainerAugment,
  type TrainingSettings,
} from "@kensa/contracts";
import { chooseRecipe } from "./recipe.js";
import { type BlobReader, snapshotFacts } from "./snapshot-facts.js";
import { DEFAULT_OVERLAP } from "./tiling-choice.js";

const RUN = "the run";
const DEFAULTS = "the project's training defaults";

/**
 * A run's input, hyper-parameters, budget and recipe: what the run gives wins, then the
 * project's training defaults, then the automatic recipe chosen from the snapshot.
 */
export async function runRecipe(o: {
  task: RunParams["task"];
  manifest: SnapshotManifest;
  blobs: BlobReader;
  create: Partial<CreateRun>;
  defaults: TrainingSettings["defaults"];
  threads: number | null;
}): Promise<Pick<RunParams, "input" | "hyper" | "budgetSec" | "recipe" | "tiling">> {
  const { create, defaults } = o;
  const input = create.input
    ? { value: create.input, by: RUN }
    : defaults.input
      ? { value: defaults.input, by: DEFAULTS }
      : undefined;
  const hyperBy: Partial<Record<keyof RunHyper, string>> = {};
  for (const k of Object.keys(defaults.hyper) as Array<keyof RunHyper>) hyperBy[k] = DEFAULTS;
  for (const k of Object.keys(create.hyper ?? {}) as Array<keyof RunHyper>) hyperBy[k] = RUN;
  const hyper: RunHyper = { ...defaults.hyper, ...(create.hyper ?? {}) };
  if (!create.hyper?.augment && isTrainerDefault(defaults.hyper.augment)) {
    // settings stored before recipes carry the trainer's augment defaults, filled in by the
    // schema rather than chosen by a person: the recipe decides
    delete hyper.augment;
    delete hyperBy.augment;
  }
  if (create.budgetSec !== undefined && create.hyper?.epochs === undefined) {
    // the run's own budget is more specific than the project's default epochs
    delete hyper.epochs;
    delete hyperBy.epochs;
  }
  const facts = await snapshotFacts(o.task, o.manifest, o.blobs);
  const recipe = chooseRecipe({
    task: o.task,
    facts,
    ...(input ? { input } : {}),
    hyper,
    hyperBy,
    ...(create.budgetSec !== undefined ? { budgetSec: create.budgetSec } : {}),
    threads: o.threads,
    ...(create.tiling !== undefined
      ? {
          tiling: {
            value: create.tiling && { ...create.tiling, overlap: create.tiling.overlap ?? DEFAULT_OVERLAP },
            by: RUN,
          },
        }
      : {}),
  });
  return {
    input: recipe.input,
    hyper: recipe.hyper,
    ...(create.budgetSec !== undefined ? { budgetSec: create.budgetSec } : {}),
    recipe: { reasons: recipe.reasons, ...(recipe.budgetEpochs ? { budgetEpochs: true } : {}) },
    ...(recipe.tiling ? { tiling: recipe.tiling } : {}),
  };
}

/** the augment object equals the trainer contract's defaults, key for key */
function isTrainerDefault(augment: RunHyper["augment"]): boolean {
  if (!augment) return false;
  const defaults = Object.entries(TrainerAugment.properties).map(([k, v]) => [k, (v as { default: boolean }).default]);
  return (
    Object.keys(augment).length === defaults.length &&
    defaults.every(([k, d]) => augment[k as keyof typeof augment] === d)
  );
}
