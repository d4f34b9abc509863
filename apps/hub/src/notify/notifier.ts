import type { Incident, Notification } from "@kensa/contracts";
import type { ProjectRecord } from "../projects/project-service.js";

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

/** Delivers one notification over one channel; throws to ask for a retry. */
export interface Notifier {
  readonly type: Notification["channel"];
  send(delivery: Delivery): Promise<void>;
  close?(): Promise<void>;
}

/** A failure retrying cannot fix (no SMTP configured, target removed): fail at once. */
export class PermanentDeliveryError extends Error {
  override readonly name = "PermanentDeliveryError";
}
