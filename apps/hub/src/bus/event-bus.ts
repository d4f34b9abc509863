import type { Incident, IncidentStatus } from "@kensa/contracts";

/** What happens in the hub that live views follow. */
export interface HubEventMap {
  "incident.created": { incident: Incident };
  /** `previousStatus` lets a filtered view drop an incident that left its status */
  "incident.updated": { incident: Incident; previousStatus: IncidentStatus };
  /** a project's incident rule changed: the fleet bundles it anew for the project's devices */
  "project.ruleChanged": { projectId: string };
  /** a device's secret was rotated or it was revoked: every replica forgets what it cached */
  "device.credentialsChanged": { deviceId: string };
}

/**
 * What every replica of a hub hears (live views on each replica). The rest is heard only where
 * it was published, because it asks for work done once: `project.ruleChanged` makes bundles
 * anew, which one replica must do, not each.
 */
export const FAN_OUT_EVENTS = [
  "incident.created",
  "incident.updated",
  "device.credentialsChanged",
] as const satisfies ReadonlyArray<keyof HubEventMap>;

export type Listener<T> = (payload: T) => void;

/**
 * Publish/subscribe between the hub's parts. The in-process adapter serves one hub; a hub
 * running as several replicas needs an adapter over a shared channel (MQTT, PostgreSQL
 * LISTEN/NOTIFY) so a console connected to one replica sees incidents ingested by another.
 */
export interface EventBus<M> {
  /** never throws: a failing listener must not fail the publisher (ingest, a verdict) */
  publish<K extends keyof M & string>(type: K, payload: M[K]): void;
  /** returns the unsubscribe function */
  subscribe<K extends keyof M & string>(type: K, listener: Listener<M[K]>): () => void;
}
