import type { DriftAlert } from "../drift/drift-service.js";
import type { ModelName } from "./rollout-messages.js";

/** The webhook's `type` and `x-kensa-event` for a drift alert. */
export const DRIFT_EVENT = "model.drift";

/**
 * What a drift alert says, taken when the drift is found and kept with each row: the champion
 * and its window move on, and a retry must still tell what was found then.
 */
export interface DriftNotice {
  kind: "drift";
  /** the `drift_alerts` row, whose `run_id` the trigger fills when the retraining starts */
  driftAlertId: string | null;
  projectId: string;
  modelVersionId: string;
  model: ModelName | null;
  statistic: DriftAlert["statistic"];
  psi: number;
  threshold: number;
  windowHours: number;
  /** frames of the window, every device pooled */
  frames: number;
  /** the retraining the alert started, when known as the alert was stored */
  runId: string | null;
  at: string;
}

export function driftNoticeOf(alert: DriftAlert, model: ModelName | null, driftAlertId: string | null): DriftNotice {
  return {
    kind: "drift",
    driftAlertId,
    projectId: alert.projectId,
    modelVersionId: alert.modelVersionId,
    model,
    statistic: alert.statistic,
    psi: alert.psi,
    threshold: alert.threshold,
    windowHours: alert.windowHours,
    frames: alert.frames,
    runId: alert.runId,
    at: alert.at,
  };
}

/** What each statistic measures, for a person who did not set the threshold. */
const MEASURES: Record<DriftNotice["statistic"], string> = {
  luma: "brightness of the frames the model sees",
  contrast: "contrast of the frames the model sees",
  score: "scores the model gives its headline findings",
};

/** luma and contrast are what the camera delivers; the score is what the model makes of it */
const driftWord = (s: DriftNotice["statistic"]) => (s === "score" ? "output drift" : "input drift");

/**
 * PSI as the subject shows it: two decimals, or as many more (up to four) as it takes not to
 * read as the threshold itself ("0.25 > 0.25" for 0.2504).
 */
function psiText(psi: number, threshold: number): string {
  for (const digits of [2, 3]) if (Number(psi.toFixed(digits)) > threshold) return psi.toFixed(digits);
  return psi.toFixed(4);
}

const modelText = (n: DriftNotice) =>
  n.model ? `${n.model.name} v${n.model.version} (${n.modelVersionId})` : n.modelVersionId;

const shortModel = (n: DriftNotice) => (n.model ? `${n.model.name} v${n.model.version}` : n.modelVersionId);

/** "2 days" for whole days, else hours: the window as the project set it */
const windowText = (hours: number) =>
  hours >= 48 && hours % 24 === 0 ? `${hours / 24} days` : `${hours} hour${hours === 1 ? "" : "s"}`;

/**
 * `runId`: the run as known when the message is sent (the notice's, else the alert row's now);
 * null when none started yet.
 */
export function driftMail(
  n: DriftNotice,
  project: { name: string; slug: string },
  url: string,
  runId: string | null,
): { subject: string; text: string } {
  const subject = `[Kensa] ${project.name}: ${driftWord(n.statistic)} on ${shortModel(n)} (${n.statistic} PSI ${psiText(n.psi, n.threshold)} > ${n.threshold})`;
  const text = [
    `The champion of project ${project.name} (${project.slug}) sees different data in the field than it was evaluated on.`,
    "",
    `  model      ${modelText(n)}`,
    `  drifted    ${n.statistic}: the ${MEASURES[n.statistic]}`,
    `  PSI        ${n.psi.toFixed(3)}, threshold ${n.threshold}`,
    `  window     the last ${windowText(n.windowHours)} before ${n.at}`,
    `  frames     ${n.frames}, every device pooled`,
    `  retrain    ${runId ?? "none started yet: the drift trigger starts one once no other run of the project is queued or running"}`,
    "",
    "The model page shows each device's histograms against the evaluation snapshot.",
    `Open it: ${url}`,
    "",
  ].join("\n");
  return { subject, text };
}

/** The webhook's JSON body (docs/notifications.md, "Drift alerts"). */
export function driftPayload(n: DriftNotice, deliveryId: string, url: string, runId: string | null) {
  return {
    type: DRIFT_EVENT,
    deliveryId,
    at: n.at,
    drift: {
      projectId: n.projectId,
      modelVersionId: n.modelVersionId,
      model: n.model,
      statistic: n.statistic,
      psi: n.psi,
      threshold: n.threshold,
      windowHours: n.windowHours,
      frames: n.frames,
      runId,
      url,
    },
  };
}
