import { trainerExitCodes } from "@kensa/contracts";
import type { TrainerExit } from "./trainer.js";

const byExit: Record<number, { code: string; what: string }> = {
  [trainerExitCodes.badJob]: { code: "KENSA_ERR_TRAINER_JOB_INVALID", what: "the job spec is invalid" },
  [trainerExitCodes.dataError]: {
    code: "KENSA_ERR_TRAINER_DATA_INVALID",
    what: "an image, mask or label is missing or unreadable",
  },
  [trainerExitCodes.trainingFailed]: {
    code: "KENSA_ERR_TRAINER_FAILED",
    what: "training failed (diverged or crashed)",
  },
  [trainerExitCodes.exportFailed]: {
    code: "KENSA_ERR_TRAINER_EXPORT_FAILED",
    what: "the model could not be exported or quantized",
  },
  [trainerExitCodes.interrupted]: { code: "KENSA_ERR_TRAINER_CANCELLED", what: "interrupted (SIGINT)" },
  [trainerExitCodes.terminated]: { code: "KENSA_ERR_TRAINER_CANCELLED", what: "terminated (SIGTERM)" },
};

/**
 * Why a trainer failed, as a person reads it: the catalog code for its exit code, what that
 * exit code means, then the trainer's own error line — or, when it printed none (a crash of
 * the interpreter), the last lines of its stderr.
 */
export function trainerFailure(
  exit: TrainerExit,
  errorLine: { code: string; message: string } | null,
  stderrTail: readonly string[],
): { code: string; message: string } {
  const known = exit.code !== null ? byExit[exit.code] : undefined;
  const how =
    exit.code !== null
      ? `the trainer exited with code ${exit.code}${known ? ` (${known.what})` : ""}`
      : `the trainer was killed by ${exit.signal}`;
  const code =
    errorLine?.code?.startsWith("KENSA_ERR_TRAINER_") && known
      ? errorLine.code
      : (known?.code ??
        (exit.signal === "SIGTERM" || exit.signal === "SIGINT"
          ? "KENSA_ERR_TRAINER_CANCELLED"
          : "KENSA_ERR_TRAINER_FAILED"));
  const detail =
    errorLine?.message ??
    stderrTail
      .filter((l) => l.trim())
      .slice(-5)
      .join(" | ");
  return { code, message: detail ? `${how}: ${detail}` : how };
}
