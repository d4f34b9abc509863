import type { Incident, Notification } from "@kensa/contracts";
import type { ProjectRecord } from "../projects/project-service.js";
import type { DriftNotice } from "./drift-messages.js";
import type { RolloutNotice } from "./rollout-messages.js";

export interface Delivery {
  notification: Notification;
  incident: Incident;
  /** with webhook secrets */
  project: ProjectRecord;
  /** where a person looks at the incident */
  incidentUrl: string;
  /** aborted when the hub shuts down */
  signal: AbortSignal;
}

/** One rollout alert to one target (a row of `rollout_notifications`). */
export interface RolloutDelivery {
  notification: { id: string; channel: Notification["channel"]; target: string; attempts: number };
  notice: RolloutNotice;
  /** with webhook secrets and the SMS gateway */
  project: ProjectRecord;
  /** where a person looks at the rollout */
  rolloutUrl: string;
  /** aborted when the hub shuts down */
  signal: AbortSignal;
}

/** One drift alert to one target (a row of `model_notifications`). */
export interface DriftDelivery {
  notification: { id: string; channel: Notification["channel"]; target: string; attempts: number };
  notice: DriftNotice;
  /** the retraining the alert started, read as the message is sent; null when none has yet */
  runId: string | null;
  /** with webhook secrets */
  project: ProjectRecord;
  /** where a person looks at the model version and its drift */
  modelUrl: string;
  /** aborted when the hub shuts down */
  signal: AbortSignal;
}

/** Delivers one notification over one channel; throws to ask for a retry. */
export interface Notifier {
  readonly type: Notification["channel"];
  send(delivery: Delivery): Promise<void>;
  /**
   * A rollout alert over this channel. Optional so notifiers written for incidents alone keep
   * working; the dispatcher fails a rollout alert for a channel without it, saying so.
   */
  sendRollout?(delivery: RolloutDelivery): Promise<void>;
  /** A drift alert over this channel; optional like `sendRollout` (SMS carries none: drift is not urgent). */
  sendDrift?(delivery: DriftDelivery): Promise<void>;
  close?(): Promise<void>;
}

/** A failure retrying cannot fix (no SMTP configured, target removed): fail at once. */
export class PermanentDeliveryError extends Error {
  override readonly name = "PermanentDeliveryError";
}

/** Every e-mail recipient and webhook of a project's routing, as targets to plan rows for. */
export function mailAndWebhookTargets(routing: {
  email: readonly string[];
  webhooks: ReadonlyArray<{ url: string }>;
}): Array<{ channel: "email" | "webhook"; target: string }> {
  return [
    ...routing.email.map((target) => ({ channel: "email" as const, target })),
    ...routing.webhooks.map((w) => ({ channel: "webhook" as const, target: w.url })),
  ];
}
