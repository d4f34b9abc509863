import type { Incident } from "@kensa/contracts";

/** The incident a notification is about, as incidents holds it. */
export interface IncidentLookup {
  get(id: string): Promise<Incident>;
}
