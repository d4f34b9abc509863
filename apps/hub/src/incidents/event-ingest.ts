import { type Event, headlineOf, type Incident } from "@kensa/contracts";
import type { Insertable, Kysely } from "kysely";
import type { EventsTable, HubDatabase } from "../db/schema.js";
import type { ProjectRecord, ProjectService } from "../projects/project-service.js";
import type { IncidentService } from "./incident-service.js";
import type { IncidentAlerts } from "./ports.js";

/** An event that passed validation, with the project of the device that sent it. */
export interface EventToStore {
  event: Event;
  projectId: string;
}

export interface StoredBatch {
  /** events stored now, in the order given */
  stored: Event[];
  /** events whose id was already stored (replays): confirmed, not stored again */
  duplicates: Event[];
  incidents: Incident[];
  /** stored events that expect media not here yet: link it after commit (see `linkLateMedia`) */
  awaitingMedia: Event[];
}

/**
 * Rows per INSERT: 21 columns × 250 stays under SQLite's and PostgreSQL's bound-parameter
 * limits with room to spare, and larger statements gained nothing measurable.
 */
const ROWS_PER_INSERT = 250;

/**
 * Stores many events in the caller's transaction with a handful of statements: multi-row
 * inserts that skip ids already stored (a replay), one look-up of frames uploaded before their
 * events, and the incidents and notification plans of the new ones. Everything commits or
 * nothing does, so a crash never leaves an event whose incident would then never be raised.
 */
export class EventIngest {
  #db: Kysely<HubDatabase>;
  #projects: ProjectService;
  #incidents: IncidentService;
  #alerts: IncidentAlerts;

  constructor(deps: {
    db: Kysely<HubDatabase>;
    projects: ProjectService;
    incidents: IncidentService;
    alerts: IncidentAlerts;
  }) {
    this.#db = deps.db;
    this.#projects = deps.projects;
    this.#incidents = deps.incidents;
    this.#alerts = deps.alerts;
  }

  async store(trx: Kysely<HubDatabase>, items: readonly EventToStore[], receivedAt: string): Promise<StoredBatch> {
    const out: StoredBatch = { stored: [], duplicates: [], incidents: [], awaitingMedia: [] };
    // the same event twice in one batch (a resend that caught up with the first send)
    const unique: EventToStore[] = [];
    const seen = new Set<string>();
    for (const item of items) {
      if (seen.has(item.event.id)) out.duplicates.push(item.event);
      else {
        seen.add(item.event.id);
        unique.push(item);
      }
    }
    const inserted = new Set<string>();
    // ids in one order everywhere: two replicas given the same resent events wait for each
    // other on the unique index instead of deadlocking
    const byId = [...unique].sort((a, b) => (a.event.id < b.event.id ? -1 : a.event.id > b.event.id ? 1 : 0));
    for (let i = 0; i < byId.length; i += ROWS_PER_INSERT) {
      const chunk = byId.slice(i, i + ROWS_PER_INSERT);
      const rows = await trx
        .insertInto("events")
        .values(chunk.map((it) => toRow(it, receivedAt)))
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("id")
        .execute();
      for (const r of rows) inserted.add(r.id);
    }
    const fresh: EventToStore[] = [];
    for (const item of unique) {
      if (inserted.has(item.event.id)) fresh.push(item);
      else out.duplicates.push(item.event);
    }
    if (fresh.length === 0) return out;

    // frames that overtook their events over HTTP
    const early = new Map<string, string>();
    const withMedia = fresh.filter((it) => it.event.media).map((it) => it.event.id);
    for (let i = 0; i < withMedia.length; i += ROWS_PER_INSERT) {
      const rows = await trx
        .selectFrom("event_media")
        .select(["event_id", "device_id", "sha256"])
        .where("event_id", "in", withMedia.slice(i, i + ROWS_PER_INSERT))
        .execute();
      for (const r of rows) early.set(`${r.event_id}/${r.device_id}`, r.sha256);
    }

    const projects = new Map<string, ProjectRecord>();
    for (const { event, projectId } of fresh) {
      out.stored.push(event);
      const mediaSha256 = early.get(`${event.id}/${event.deviceId}`) ?? null;
      if (mediaSha256) {
        await trx.updateTable("events").set({ media_sha256: mediaSha256 }).where("id", "=", event.id).execute();
      } else if (event.media) out.awaitingMedia.push(event);
      let project = projects.get(projectId);
      if (!project) {
        project = await this.#projects.get(projectId, trx);
        projects.set(projectId, project);
      }
      const incident = await this.#incidents.raiseFor(trx, event, project, receivedAt, mediaSha256);
      if (incident) {
        await this.#alerts.planFor(trx, incident, project, receivedAt);
        out.incidents.push(incident);
      }
    }
    return out;
  }

  /**
   * Points stored events and their incidents at media that arrived while they committed. Run
   * after the batch commits: under PostgreSQL's read committed, an upload and its event
   * committing at the same time do not see each other inside their transactions, but whichever
   * commits last sees both here (the upload side does the same).
   */
  async linkLateMedia(events: readonly Event[]): Promise<void> {
    for (let i = 0; i < events.length; i += ROWS_PER_INSERT) {
      const chunk = events.slice(i, i + ROWS_PER_INSERT);
      const media = await this.#db
        .selectFrom("event_media")
        .select(["event_id", "device_id", "sha256"])
        .where(
          "event_id",
          "in",
          chunk.map((e) => e.id),
        )
        .execute();
      for (const m of media) {
        const event = chunk.find((e) => e.id === m.event_id && e.deviceId === m.device_id);
        if (!event) continue;
        await this.#db
          .updateTable("events")
          .set({ media_sha256: m.sha256 })
          .where("id", "=", m.event_id)
          .where("device_id", "=", m.device_id)
          .where("media_sha256", "is", null)
          .execute();
        await this.#db
          .updateTable("incidents")
          .set({ media_sha256: m.sha256 })
          .where("event_id", "=", m.event_id)
          .where("device_id", "=", m.device_id)
          .where("media_sha256", "is", null)
          .execute();
      }
    }
  }
}

function toRow({ event, projectId }: EventToStore, receivedAt: string): Insertable<EventsTable> {
  const headline = headlineOf(event.result);
  return {
    id: event.id,
    seq: event.seq,
    device_id: event.deviceId,
    project_id: projectId,
    pipeline: event.pipeline,
    source_id: event.sourceId,
    ts: event.ts,
    received_at: receivedAt,
    model_version_id: event.bundle.modelVersionId,
    bundle_sha256: event.bundle.sha256,
    result: JSON.stringify(event.result),
    frame_meta: JSON.stringify(event.frame.meta),
    frame_width: event.frame.width,
    frame_height: event.frame.height,
    latency: JSON.stringify(event.latencyMs),
    media_expected: event.media ? 1 : 0,
    media_sha256: null,
    // for drift (drift/drift-store.ts): plain columns, so the window's histograms group numbers
    input_luma: event.input?.luma ?? null,
    input_contrast: event.input?.contrast ?? null,
    headline_label: headline?.label ?? null,
    headline_score: headline?.score ?? null,
  };
}
