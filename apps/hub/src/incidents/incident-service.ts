import {
  type Event,
  headlineOf,
  type Incident,
  type IncidentStatus,
  type InferenceResult,
  KensaError,
  type Verdict,
  type VerdictKind,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { EventClipsTable, HubDatabase, IncidentsTable, VerdictsTable } from "../db/schema.js";
import { newId } from "../ids.js";
import type { ProjectRecord } from "../projects/project-service.js";
import { type IncidentQuery, listIncidentRows } from "./incident-queries.js";
import type { Page } from "./keyset-cursor.js";

export type { IncidentQuery } from "./incident-queries.js";

/** Incidents are events a project's rule flagged for people, with their verdict history. */
export class IncidentService {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /**
   * Creates the incident of a newly stored event: when the agent evaluated the bundle's rules
   * (the event carries `rules`), a hit names the rule; otherwise the project's threshold rule
   * decides. Runs inside the event's transaction, so an event never exists without its incident.
   */
  async raiseFor(
    trx: Kysely<HubDatabase>,
    event: Event,
    project: ProjectRecord,
    receivedAt: string,
    mediaSha256: string | null,
  ): Promise<Incident | null> {
    const hit = event.rules ? agentRuleHit(event) : ruleHit(project, event.result);
    if (!hit) return null;
    const { fired, label, score } = hit;
    // a clip uploaded before its event was ingested
    const clip = await trx
      .selectFrom("event_clips")
      .selectAll()
      .where("event_id", "=", event.id)
      .where("device_id", "=", event.deviceId)
      .executeTakeFirst();
    const row: IncidentsTable = {
      id: newId("inc"),
      project_id: project.id,
      device_id: event.deviceId,
      event_id: event.id,
      status: "open",
      label,
      score,
      rule: fired,
      model_version_id: event.bundle.modelVersionId,
      bundle_sha256: event.bundle.sha256,
      frame_meta: JSON.stringify(event.frame.meta),
      media_sha256: mediaSha256,
      created_at: receivedAt,
      acknowledged_by: null,
      acknowledged_at: null,
      ...clipColumns(clip ?? null),
    };
    await trx.insertInto("incidents").values(row).execute();
    return toIncident({ ...row, site_id: null, site_incident_id: null }, []);
  }

  /** One page of incidents, newest first, with their verdicts; throws KENSA_ERR_VALIDATION for a bad cursor. */
  async list(query: IncidentQuery): Promise<Page<Incident>> {
    const page = await listIncidentRows(this.#db, query);
    const verdicts = await this.#verdictsOf(page.items.map((r) => r.id));
    return { items: page.items.map((r) => toIncident(r, verdicts.get(r.id) ?? [])), nextCursor: page.nextCursor };
  }

  /**
   * Throws KENSA_ERR_INCIDENT_NOT_FOUND, also for an incident outside `sites` (a caller's site
   * scope: one they may not see reads as absent, not as forbidden).
   */
  async get(id: string, db: Kysely<HubDatabase> = this.#db, sites: readonly string[] | null = null): Promise<Incident> {
    const row = await db.selectFrom("incidents").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row || (sites && !(row.site_id && sites.includes(row.site_id))))
      throw new KensaError("KENSA_ERR_INCIDENT_NOT_FOUND", `no incident with id "${id}"`);
    const verdicts = await this.#verdictsOf([id], db);
    return toIncident(row, verdicts.get(id) ?? []);
  }

  /** the incident raised from this event, or null */
  async forEvent(eventId: string): Promise<Incident | null> {
    const row = await this.#db.selectFrom("incidents").select("id").where("event_id", "=", eventId).executeTakeFirst();
    return row ? this.get(row.id) : null;
  }

  /**
   * Marks an open incident as seen by `by`; acknowledging it again changes nothing (the first
   * acknowledgement is kept). Throws KENSA_ERR_INCIDENT_ALREADY_DECIDED once it has a verdict.
   */
  async acknowledge(id: string, by: string, at: string): Promise<{ incident: Incident; changed: boolean }> {
    const res = await this.#db
      .updateTable("incidents")
      .set({ status: "acknowledged", acknowledged_by: by, acknowledged_at: at })
      .where("id", "=", id)
      .where("status", "=", "open")
      .executeTakeFirst();
    const incident = await this.get(id);
    const changed = Number(res.numUpdatedRows) > 0;
    if (!changed && incident.status !== "acknowledged") {
      throw new KensaError(
        "KENSA_ERR_INCIDENT_ALREADY_DECIDED",
        `incident ${id} already has a verdict (${incident.status}); it cannot be acknowledged`,
      );
    }
    return { incident, changed };
  }

  async #verdictsOf(ids: string[], db: Kysely<HubDatabase> = this.#db): Promise<Map<string, Verdict[]>> {
    const out = new Map<string, Verdict[]>();
    if (ids.length === 0) return out;
    const rows = await db
      .selectFrom("verdicts")
      .selectAll()
      .where("incident_id", "in", ids)
      .orderBy("created_at", "asc")
      .execute();
    for (const r of rows) {
      const list = out.get(r.incident_id) ?? [];
      list.push(toVerdict(r));
      out.set(r.incident_id, list);
    }
    return out;
  }
}

/** The first rule the agent reported as hit, named as the incident shows it, with its label and score. */
export function agentRuleHit(event: Event): { fired: string; label: string; score: number } | null {
  const hit = event.rules?.[0];
  if (!hit) return null;
  const head = headlineOf(event.result);
  return {
    fired: hit.name,
    label: hit.label ?? head?.label ?? hit.type,
    score: hit.score ?? head?.score ?? 1,
  };
}

/** The (label, score) candidates a result offers a rule: every detection or region counts. */
export function findings(result: InferenceResult): Array<{ label: string; score: number }> {
  switch (result.task) {
    case "classification":
      return [{ label: result.label, score: result.score }];
    case "detection":
      return result.detections.map((d) => ({ label: d.label, score: d.score }));
    case "segmentation":
      return result.regions.map((r) => ({ label: r.label, score: r.score }));
    case "anomaly":
      return [{ label: result.label, score: result.score }];
  }
}

/** The best-scoring candidate of a result that fires the project's rule, if any. */
export function ruleHit(
  project: ProjectRecord,
  result: InferenceResult,
): { fired: string; label: string; score: number } | null {
  let best: { fired: string; label: string; score: number } | null = null;
  for (const f of findings(result)) {
    const fired = evaluateRule(project, f.label, f.score);
    if (fired && (!best || f.score > best.score)) best = { fired, ...f };
  }
  return best;
}

export function evaluateRule(project: ProjectRecord, label: string, score: number): string | null {
  const { labels, minScore } = project.rule;
  const watched = labels.length > 0 ? labels.includes(label) : !project.okLabels.includes(label);
  if (!watched || score < minScore) return null;
  return `threshold: ${label} ≥ ${minScore.toFixed(2)}`;
}

/** The incident columns that show a stored clip (or none). */
export function clipColumns(
  clip: Pick<EventClipsTable, "sha256" | "content_type" | "size" | "duration_ms"> | null,
): Pick<IncidentsTable, "clip_sha256" | "clip_content_type" | "clip_size" | "clip_duration_ms"> {
  return {
    clip_sha256: clip?.sha256 ?? null,
    clip_content_type: clip?.content_type ?? null,
    clip_size: clip?.size ?? null,
    clip_duration_ms: clip?.duration_ms ?? null,
  };
}

export function toIncident(row: Selectable<IncidentsTable>, verdicts: Verdict[]): Incident {
  return {
    id: row.id,
    projectId: row.project_id,
    deviceId: row.device_id,
    eventId: row.event_id,
    status: row.status as IncidentStatus,
    label: row.label,
    score: Number(row.score),
    rule: row.rule,
    modelVersionId: row.model_version_id,
    bundleSha256: row.bundle_sha256,
    frameMeta: JSON.parse(row.frame_meta) as Incident["frameMeta"],
    mediaSha256: row.media_sha256,
    clip:
      row.clip_sha256 && row.clip_content_type
        ? {
            sha256: row.clip_sha256,
            contentType: row.clip_content_type,
            size: Number(row.clip_size ?? 0),
            durationMs: row.clip_duration_ms === null ? null : Number(row.clip_duration_ms),
          }
        : null,
    createdAt: row.created_at,
    acknowledgedBy: row.acknowledged_by ?? null,
    acknowledgedAt: row.acknowledged_at ?? null,
    verdicts,
    site: row.site_id && row.site_incident_id ? { id: row.site_id, incidentId: row.site_incident_id } : null,
  };
}

export function toVerdict(row: Selectable<VerdictsTable>): Verdict {
  return {
    id: row.id,
    incidentId: row.incident_id,
    verdict: row.verdict as VerdictKind,
    labels: JSON.parse(row.labels) as string[],
    note: row.note,
    by: row.decided_by,
    createdAt: row.created_at,
  };
}
