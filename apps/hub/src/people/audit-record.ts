import type { ActorKind } from "@kensa/contracts";

/** What an audit entry says before the log numbers and chains it. */
export interface AuditTarget {
  /** what kind of thing: "user", "incident", "model", "deployment", "project", "token", … */
  type: string;
  id?: string | null;
}

export interface AuditRecord {
  actor: string;
  actorKind: ActorKind;
  /** `<noun>.<verb>`, e.g. "model.approve" */
  action: string;
  target?: AuditTarget | null;
  details?: Record<string, unknown>;
  ip?: string | null;
}
