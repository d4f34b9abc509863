import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import {
  type IncidentStatus,
  KensaError,
  type ModelLineage,
  type ModelManifest,
  type PushReply,
  type SiteIncident,
  type SiteModelApproval,
  type SiteModelsReply,
  type SiteVerdict,
} from "@kensa/contracts";
import { sniffImage } from "@kensa/vision";
import type { Kysely, Selectable } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { SitesTable } from "../db/schema/federation.js";
import type { HubDatabase } from "../db/schema.js";
import { newId } from "../ids.js";
import { siteProjects } from "./site-registry.js";
import { decodeSyncCursor, encodeSyncCursor, settledBefore } from "./sync-cursor.js";

const statusOf: Record<SiteVerdict["verdict"], IncidentStatus> = {
  confirmed: "confirmed",
  false_alarm: "false_alarm",
  relabel: "relabeled",
};

type SiteRow = Selectable<SitesTable>;

/**
 * On a central hub: what sites push (incidents, verdicts, frames) and what they pull (approved
 * models). Pushes are idempotent per item, so a batch resent after a cut stores nothing twice,
 * and answer per item (`{ ok, duplicates, failed }`) rather than failing half-way.
 *
 * Site incidents are stored, not raised: central plans no notifications for them (the site
 * already told its people) and publishes no live event; they show in central's incident list
 * with their `site`.
 */
export class CentralIntake {
  #db: Kysely<HubDatabase>;
  #blobs: BlobStore;
  /** ms an approval must be old before a site is given it (see `federation.settleMs`) */
  #settleMs: number;

  constructor(db: Kysely<HubDatabase>, blobs: BlobStore, settleMs: number) {
    this.#db = db;
    this.#blobs = blobs;
    this.#settleMs = settleMs;
  }

  async pushIncidents(site: SiteRow, items: SiteIncident[]): Promise<PushReply> {
    const reply: PushReply = { ok: 0, duplicates: 0, failed: [] };
    const projectIds = await this.#projectIds(site);
    for (const item of items) {
      const projectId = projectIds.get(item.projectSlug);
      if (!projectId) {
        reply.failed.push({
          item: item.id,
          code: "KENSA_ERR_SITE_PROJECT_UNKNOWN",
          message: `site ${site.id} serves no central project "${item.projectSlug}"`,
        });
        continue;
      }
      try {
        const res = await this.#db
          .insertInto("incidents")
          .values({
            id: newId("inc"),
            project_id: projectId,
            device_id: item.deviceId,
            // event ids are unique on central too: the site's are namespaced by its id
            event_id: `${site.id}:${item.eventId}`,
            status: item.status,
            label: item.label,
            score: item.score,
            rule: item.rule,
            model_version_id: item.modelVersionId,
            bundle_sha256: item.bundleSha256,
            frame_meta: JSON.stringify(item.frameMeta),
            media_sha256: item.mediaSha256 && (await this.#blobs.has(item.mediaSha256)) ? item.mediaSha256 : null,
            created_at: item.createdAt,
            acknowledged_by: item.acknowledgedBy,
            acknowledged_at: item.acknowledgedAt,
            clip_sha256: null,
            clip_content_type: null,
            clip_size: null,
            clip_duration_ms: null,
            site_id: site.id,
            site_incident_id: item.id,
          })
          // (site_id, site_incident_id) is unique: a resent incident is a duplicate, not an error
          .onConflict((oc) => oc.doNothing())
          .executeTakeFirst();
        if (Number(res.numInsertedOrUpdatedRows ?? 0n) > 0) reply.ok++;
        else reply.duplicates++;
      } catch (err) {
        reply.failed.push({ item: item.id, code: "KENSA_ERR_INTERNAL", message: (err as Error).message });
      }
    }
    return reply;
  }

  /** Each verdict once (by its id); the incident's status follows its latest verdict. */
  async pushVerdicts(site: SiteRow, items: SiteVerdict[]): Promise<PushReply> {
    const reply: PushReply = { ok: 0, duplicates: 0, failed: [] };
    for (const item of items) {
      const incident = await this.#db
        .selectFrom("incidents")
        .select("id")
        .where("site_id", "=", site.id)
        .where("site_incident_id", "=", item.incidentId)
        .executeTakeFirst();
      if (!incident) {
        reply.failed.push({
          item: item.id,
          code: "KENSA_ERR_INCIDENT_NOT_FOUND",
          message: `site ${site.id} has not pushed incident ${item.incidentId}`,
        });
        continue;
      }
      const existing = await this.#db
        .selectFrom("verdicts")
        .select("incident_id")
        .where("id", "=", item.id)
        .executeTakeFirst();
      if (existing) {
        if (existing.incident_id === incident.id) reply.duplicates++;
        else {
          reply.failed.push({
            item: item.id,
            code: "KENSA_ERR_VALIDATION",
            message: `verdict id ${item.id} is taken by another incident on central`,
          });
        }
        continue;
      }
      await this.#db.transaction().execute(async (trx) => {
        await trx
          .insertInto("verdicts")
          .values({
            id: item.id,
            incident_id: incident.id,
            verdict: item.verdict,
            labels: JSON.stringify(item.labels),
            note: item.note,
            decided_by: item.by,
            created_at: item.createdAt,
          })
          .execute();
        const latest = await trx
          .selectFrom("verdicts")
          .select("verdict")
          .where("incident_id", "=", incident.id)
          .orderBy("created_at", "desc")
          .orderBy("id", "desc")
          .executeTakeFirstOrThrow();
        await trx
          .updateTable("incidents")
          .set({ status: statusOf[latest.verdict as SiteVerdict["verdict"]] })
          .where("id", "=", incident.id)
          .execute();
      });
      reply.ok++;
    }
    return reply;
  }

  /** Stores a frame a site's incident names; throws KENSA_ERR_FEDERATION_HASH_MISMATCH, KENSA_ERR_MEDIA_INVALID. */
  async putFrame(sha256: string, bytes: Uint8Array): Promise<{ sha256: string; size: number }> {
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== sha256) {
      throw new KensaError("KENSA_ERR_FEDERATION_HASH_MISMATCH", `the frame's sha256 is ${actual}, not ${sha256}`);
    }
    // central serves it as an image (typed by its bytes): nothing else is stored for a site
    if (!sniffImage(bytes))
      throw new KensaError("KENSA_ERR_MEDIA_INVALID", "a site's frame must be a complete JPEG or PNG");
    return this.#blobs.put(bytes);
  }

  /**
   * Approvals of models of the site's projects after `since`, oldest first. Approvals younger
   * than the settle time wait for the next call, so one committed late is not passed over.
   */
  async approvals(site: SiteRow, since: string | undefined, limit: number): Promise<SiteModelsReply> {
    const cursor = decodeSyncCursor(since);
    const slugs = siteProjects(site);
    if (slugs.length === 0) return { items: [], nextCursor: encodeSyncCursor(cursor) };
    const rows = await this.#db
      .selectFrom("approvals as a")
      .innerJoin("model_versions as m", "m.id", "a.model_version_id")
      .innerJoin("projects as p", "p.id", "m.project_id")
      .select(["a.id as approval_id", "a.created_at as approved_at"])
      .select(["m.id", "m.version", "m.name", "m.sha256", "m.size", "m.manifest", "m.lineage"])
      .select(["p.slug", "p.name as project_name", "p.task", "p.labels", "p.ok_labels", "p.rule"])
      .where("a.action", "=", "approve")
      .where("p.slug", "in", slugs)
      .where("a.created_at", "<", settledBefore(this.#settleMs))
      .where((eb) =>
        eb.or([
          eb("a.created_at", ">", cursor.at),
          eb.and([eb("a.created_at", "=", cursor.at), eb("a.id", ">", cursor.id)]),
        ]),
      )
      .orderBy("a.created_at")
      .orderBy("a.id")
      .limit(limit)
      .execute();
    const items: SiteModelApproval[] = rows.map((r) => ({
      approvalId: r.approval_id,
      approvedAt: r.approved_at,
      project: {
        slug: r.slug,
        name: r.project_name,
        task: r.task as SiteModelApproval["project"]["task"],
        labels: JSON.parse(r.labels) as string[],
        okLabels: JSON.parse(r.ok_labels) as string[],
        rule: JSON.parse(r.rule) as SiteModelApproval["project"]["rule"],
      },
      model: {
        id: r.id,
        version: Number(r.version),
        name: r.name,
        sha256: r.sha256,
        size: Number(r.size),
        manifest: JSON.parse(r.manifest) as ModelManifest,
        lineage: r.lineage ? (JSON.parse(r.lineage) as ModelLineage) : null,
      },
    }));
    const last = rows.at(-1);
    return {
      items,
      nextCursor: encodeSyncCursor(last ? { at: last.approved_at, id: last.approval_id } : cursor),
    };
  }

  /** A model file of one of the site's projects; throws KENSA_ERR_MODEL_NOT_FOUND for any other. */
  async modelFile(site: SiteRow, modelId: string): Promise<{ stream: Readable; size: number }> {
    const row = await this.#db
      .selectFrom("model_versions as m")
      .innerJoin("projects as p", "p.id", "m.project_id")
      .select(["m.sha256", "p.slug"])
      .where("m.id", "=", modelId)
      .executeTakeFirst();
    if (!row || !siteProjects(site).includes(row.slug)) {
      throw new KensaError("KENSA_ERR_MODEL_NOT_FOUND", `no model version "${modelId}" in site ${site.id}'s projects`);
    }
    const s = await this.#blobs.stream(row.sha256);
    if (!s) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `the file of model ${modelId} (${row.sha256}) is missing`);
    return s;
  }

  async #projectIds(site: SiteRow): Promise<Map<string, string>> {
    const slugs = siteProjects(site);
    if (slugs.length === 0) return new Map();
    const rows = await this.#db.selectFrom("projects").select(["id", "slug"]).where("slug", "in", slugs).execute();
    return new Map(rows.map((r) => [r.slug, r.id]));
  }
}
