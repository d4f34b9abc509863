import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import type { ProjectService } from "../projects/project-service.js";
import { ClipService } from "./clip-service.js";
import { EarlyMedia, type EarlyMediaLimits } from "./early-media.js";
import { EventIngest } from "./event-ingest.js";
import { EventService } from "./event-service.js";
import { IncidentService } from "./incident-service.js";
import type { EventMediaLinks, IncidentAlerts, VerdictLabels } from "./ports.js";
import { VerdictService } from "./verdict-service.js";

/** Incidents: events with their frames and clips, the incidents devices decided, people's verdicts. */
export interface Incidents {
  incidents: IncidentService;
  events: EventService;
  /** batched storage of events arriving from devices (ingest owns the transaction) */
  eventIngest: EventIngest;
  verdicts: VerdictService;
  clips: ClipService;
  /** frames and clips waiting for their events, and the sweep of those that never come */
  earlyMedia: EarlyMedia;
}

export function createIncidents(deps: {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  projects: ProjectService;
  /** plans who is told of a new incident (notify) */
  alerts: IncidentAlerts;
  /** verdicts become labels and late frames reach their samples (datasets) */
  labels: VerdictLabels & EventMediaLinks;
  /** bounds on media that arrives before its event */
  earlyMedia?: EarlyMediaLimits;
}): Incidents {
  const { db, blobs, projects } = deps;
  const incidents = new IncidentService(db);
  const earlyMedia = new EarlyMedia(db, deps.earlyMedia);
  return {
    incidents,
    events: new EventService({
      db,
      blobs,
      projects,
      incidents,
      alerts: deps.alerts,
      mediaLinks: deps.labels,
      earlyMedia,
    }),
    eventIngest: new EventIngest({ db, projects, incidents, alerts: deps.alerts }),
    verdicts: new VerdictService(db, incidents, projects, deps.labels),
    clips: new ClipService(db, blobs, earlyMedia),
    earlyMedia,
  };
}
