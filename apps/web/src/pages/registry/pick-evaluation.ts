import type { Evaluation, ModelDetails } from "@kensa/contracts";

/**
 * The evaluation to show: the latest finished one on `snapshotId` (the gate's frozen snapshot,
 * so champion and challenger compare on the same images), else the latest finished one unless
 * `strict` (a champion scored on other images would make the comparison a lie).
 */
export function pickEvaluation(
  details: ModelDetails | undefined,
  snapshotId: string | null,
  strict = false,
): Evaluation | null {
  const done = (details?.evaluations ?? [])
    .filter((e) => e.status === "succeeded" && e.metrics)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  const on = snapshotId ? done.find((e) => e.snapshotId === snapshotId) : undefined;
  return on ?? (strict && snapshotId ? null : (done[0] ?? null));
}
