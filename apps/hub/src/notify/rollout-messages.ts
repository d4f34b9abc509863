import type { Rollout, Severity } from "@kensa/contracts";
import type { RolloutAlert } from "../rollouts/rollout-service.js";
import { fitWithLink } from "./sms-text.js";

export type RolloutAlertKind = RolloutAlert["kind"];

/** Alerts urgent enough for a text message: the rollout stopped and may need a person. */
export const SMS_KINDS: ReadonlySet<RolloutAlertKind> = new Set(["paused", "rolled_back"]);

/**
 * The severity a rollout SMS has for quiet hours: a stopped rollout harms no one while people
 * sleep (its devices keep or got back what they ran), so it waits for the morning unless the
 * quiet hours' `override` lists `major`. Also the `{{severity}}` of a gateway template.
 */
export const ROLLOUT_SMS_SEVERITY: Severity = "major";

/** A model version as a person reads it: "press v3" (null: unknown to the hub, or nothing). */
export interface ModelName {
  name: string;
  version: number;
}

/**
 * What a rollout alert says, taken when the transition is stored and kept with each row: the
 * rollout moves on (a person resumes it), and a retry must still tell what happened then.
 */
export interface RolloutNotice {
  kind: RolloutAlertKind;
  rolloutId: string;
  projectId: string;
  pipeline: string;
  mode: Rollout["mode"];
  state: Rollout["state"];
  modelVersionId: string;
  model: ModelName | null;
  championModelVersionId: string | null;
  champion: ModelName | null;
  /** the wave running or last run, 0-based, of `waves` */
  wave: { index: number; of: number; state: string; deviceIds: string[] };
  /** the current wave's gates that breached, with the evidence in words */
  breached: Array<{ gate: string; detail: string }>;
  reason: string;
  /** a person's id, or `hub` */
  by: string;
  /** when the transition was stored */
  at: string;
}

/** The notice of an alert; `names` gives model versions their name and number where known. */
export function noticeOf(alert: RolloutAlert, names: ReadonlyMap<string, ModelName>): RolloutNotice {
  const r = alert.rollout;
  const wave = r.waves[r.currentWave];
  return {
    kind: alert.kind,
    rolloutId: r.id,
    projectId: r.projectId,
    pipeline: r.pipeline,
    mode: r.mode,
    state: r.state,
    modelVersionId: r.modelVersionId,
    model: names.get(r.modelVersionId) ?? null,
    championModelVersionId: r.championModelVersionId,
    champion: r.championModelVersionId ? (names.get(r.championModelVersionId) ?? null) : null,
    wave: {
      index: r.currentWave,
      of: r.waves.length,
      state: wave?.state ?? "pending",
      deviceIds: [...(wave?.deviceIds ?? [])],
    },
    breached: (wave?.gates ?? []).filter((g) => g.status === "breach").map((g) => ({ gate: g.gate, detail: g.detail })),
    reason: alert.reason,
    by: alert.by,
    at: r.history.at(-1)?.at ?? r.updatedAt,
  };
}

const VERB: Record<RolloutAlertKind, string> = {
  paused: "paused",
  rolled_back: "rolled back",
  completed: "completed",
  aborted: "aborted",
};

const modelText = (id: string | null, m: ModelName | null) =>
  id === null ? "nothing" : m ? `${m.name} v${m.version} (${id})` : id;

const shortModel = (id: string, m: ModelName | null) => (m ? `${m.name} v${m.version}` : id);

/** "the hub" for the hub's own decisions, else the person */
const byText = (by: string) => (by === "hub" ? "the hub (no person acting)" : by);

/** The webhook's `type` and `x-kensa-event`: `rollout.paused`, `rollout.rolled_back`, … */
export const rolloutEvent = (kind: RolloutAlertKind) => `rollout.${kind}` as const;

export function rolloutMail(n: RolloutNotice, project: { name: string; slug: string }, url: string) {
  const wave = `wave ${n.wave.index + 1} of ${n.wave.of}`;
  const subject = `[Kensa] ${project.name}: rollout of ${shortModel(n.modelVersionId, n.model)} ${VERB[n.kind]} (${wave})`;
  const lines = [
    `A ${n.mode} rollout in project ${project.name} (${project.slug}) was ${VERB[n.kind]}.`,
    "",
    `  rollout   ${n.rolloutId}`,
    `  model     ${modelText(n.modelVersionId, n.model)}`,
    `  champion  ${modelText(n.championModelVersionId, n.champion)}`,
    `  pipeline  ${n.pipeline}`,
    `  wave      ${wave}, ${n.wave.deviceIds.length} device(s), ${n.wave.state.replace("_", " ")}`,
    `  by        ${byText(n.by)}`,
    `  at        ${n.at}`,
    "",
    `Why: ${n.reason}`,
  ];
  if (n.breached.length > 0) {
    lines.push("", "Gates that breached:");
    for (const g of n.breached) lines.push(`  ${g.gate}: ${g.detail}`);
  }
  lines.push("", `Open it: ${url}`, "");
  return { subject, text: lines.join("\n") };
}

/** The webhook's JSON body (docs/notifications.md, "Rollout alerts"). */
export function rolloutPayload(n: RolloutNotice, deliveryId: string, url: string) {
  return {
    type: rolloutEvent(n.kind),
    deliveryId,
    at: n.at,
    by: n.by,
    reason: n.reason,
    rollout: {
      id: n.rolloutId,
      projectId: n.projectId,
      pipeline: n.pipeline,
      mode: n.mode,
      state: n.state,
      modelVersionId: n.modelVersionId,
      model: n.model,
      championModelVersionId: n.championModelVersionId,
      champion: n.champion,
      wave: n.wave,
      url,
    },
    breached: n.breached,
  };
}

/** "ROLLOUT PAUSED line-1: press v3 wave 1/3, false_alarms breached https://hub/rollouts/rol_…" */
export function rolloutSms(n: RolloutNotice, projectSlug: string, url: string, max: number): string {
  const gates = n.breached.length > 0 ? `, ${n.breached.map((g) => g.gate).join(", ")} breached` : `: ${n.reason}`;
  const head = `ROLLOUT ${VERB[n.kind].toUpperCase()} ${projectSlug}: ${shortModel(n.modelVersionId, n.model)} wave ${n.wave.index + 1}/${n.wave.of}${gates}`;
  return fitWithLink(head, url, max);
}
