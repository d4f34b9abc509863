import type { Incident, Verdict } from "@kensa/contracts";
import type { ImageInfo } from "@kensa/vision";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { ProjectRecord } from "../projects/project-service.js";

/**
 * The ports the incidents feature owns: the steps of the loop that leave it. Each runs inside
 * the caller's transaction, so an incident, its verdict or its frame is never stored without
 * what follows from it.
 */

/** Verdict → label: a person's verdict becomes a label revision of the incident's sample (datasets). */
export interface VerdictLabels {
  labelFromVerdict(
    trx: Kysely<HubDatabase>,
    incident: Incident,
    verdict: Verdict,
    project: ProjectRecord,
  ): Promise<void>;
}

/** An event's frame, once stored and linked. */
export interface EventMedia {
  eventId: string;
  deviceId: string;
  sha256: string;
  info: ImageInfo;
}

/** Media → sample: a frame that reaches an event gives the event's sample its image (datasets). */
export interface EventMediaLinks {
  attachEventMedia(trx: Kysely<HubDatabase>, media: EventMedia): Promise<void>;
}

/** Incident → notifications: who is told of a new incident, planned with the incident (notify). */
export interface IncidentAlerts {
  /** the number of notifications planned */
  planFor(trx: Kysely<HubDatabase>, incident: Incident, project: ProjectRecord, now: string): Promise<number>;
}
