import { KensaError, type PushReply, type SiteSample } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import { canonicalLabel, labelProblem } from "../datasets/label-content.js";
import { appendRevision, revisionRow, sampleRow } from "../datasets/sample-rows.js";
import type { SitesTable } from "../db/schema/federation.js";
import type { HubDatabase } from "../db/schema.js";
import { probeImageWithin } from "../limits/image-gate.js";
import { siteProjects } from "./site-registry.js";

type SiteRow = Selectable<SitesTable>;
type Failure = PushReply["failed"][number];

/** the sample source central records for a site's samples */
export const siteSource = (siteId: string) => `site:${siteId}` as const;

/**
 * On a central hub: the labelled samples sites push. Each site sample is one sample of the
 * central project of its slug (`source: site:<id>`), found again by (site, site sample id) in
 * `site_samples`; a later label revision on the site (a higher `rev`) appends a revision to
 * that sample, an equal or older one (a batch resent after a cut) changes nothing. Answers per
 * item and never fails half-way.
 */
export class CentralSamples {
  #db: Kysely<HubDatabase>;
  #blobs: BlobStore;

  constructor(db: Kysely<HubDatabase>, blobs: BlobStore) {
    this.#db = db;
    this.#blobs = blobs;
  }

  async push(site: SiteRow, items: SiteSample[]): Promise<PushReply> {
    const reply: PushReply = { ok: 0, duplicates: 0, failed: [] };
    const projects = await this.#projects(site);
    for (const item of items) {
      try {
        const outcome = await this.#one(site, item, projects);
        if (outcome === "ok") reply.ok++;
        else if (outcome === "duplicate") reply.duplicates++;
        else reply.failed.push(outcome);
      } catch (err) {
        // an image central cannot decode is refused with its own code (KENSA_ERR_MEDIA_INVALID, …)
        const code = err instanceof KensaError ? err.code : "KENSA_ERR_INTERNAL";
        reply.failed.push({ item: item.id, code, message: (err as Error).message });
      }
    }
    return reply;
  }

  async #one(
    site: SiteRow,
    item: SiteSample,
    projects: Map<string, { id: string; labels: string[] }>,
  ): Promise<"ok" | "duplicate" | Failure> {
    const fail = (code: string, message: string): Failure => ({ item: item.id, code, message });
    const project = projects.get(item.projectSlug);
    if (!project) {
      return fail("KENSA_ERR_SITE_PROJECT_UNKNOWN", `site ${site.id} serves no central project "${item.projectSlug}"`);
    }
    const known = await this.#db
      .selectFrom("site_samples")
      .select(["sample_id", "site_rev"])
      .where("site_id", "=", site.id)
      .where("site_sample_id", "=", item.id)
      .executeTakeFirst();
    if (known && Number(known.site_rev) >= item.label.rev) return "duplicate";
    const content = canonicalLabel(item.label.content);
    const problem = labelProblem(content, project.labels, item.image);
    if (problem) return fail("KENSA_ERR_LABEL_INVALID", `sample ${item.id}: ${problem}`);
    for (const o of content.objects) {
      if (o.mask && !(await this.#blobs.has(o.mask))) {
        return fail("KENSA_ERR_BLOB_NOT_FOUND", `mask ${o.mask} of sample ${item.id} was not uploaded first`);
      }
    }
    if (!known) {
      const bytes = await this.#blobs.get(item.image.sha256);
      if (!bytes) {
        return fail(
          "KENSA_ERR_BLOB_NOT_FOUND",
          `image ${item.image.sha256} of sample ${item.id} was not uploaded first`,
        );
      }
      // the label's boxes are checked against these sizes: they must be the image's own
      const info = await probeImageWithin(bytes);
      const i = item.image;
      if (info.format !== i.format || info.width !== i.width || info.height !== i.height) {
        return fail(
          "KENSA_ERR_VALIDATION",
          `sample ${item.id}: the image is a ${info.width}×${info.height} ${info.format}, not ${i.width}×${i.height} ${i.format}`,
        );
      }
    }
    const now = isoNow();
    await this.#db.transaction().execute(async (trx) => {
      let sampleId = known?.sample_id;
      if (!sampleId) {
        sampleId = await this.#insertSample(trx, site, item, project.id);
        await trx
          .insertInto("site_samples")
          .values({
            site_id: site.id,
            site_sample_id: item.id,
            sample_id: sampleId,
            site_revision_id: item.label.revisionId,
            site_rev: item.label.rev,
            created_at: now,
            updated_at: now,
          })
          .execute();
      } else {
        const moved = await trx
          .updateTable("site_samples")
          .set({ site_revision_id: item.label.revisionId, site_rev: item.label.rev, updated_at: now })
          .where("site_id", "=", site.id)
          .where("site_sample_id", "=", item.id)
          // a concurrent push of the same revision must not append it twice
          .where("site_rev", "<", item.label.rev)
          .executeTakeFirst();
        if (Number(moved.numUpdatedRows) === 0) return;
      }
      const id = sampleId;
      await appendRevision(trx, id, (rev) =>
        revisionRow({
          sampleId: id,
          rev,
          content,
          status: item.label.status,
          by: item.label.by,
          source: item.label.source,
          verdictId: item.label.verdictId,
          createdAt: item.label.createdAt,
        }),
      );
    });
    return "ok";
  }

  async #insertSample(trx: Kysely<HubDatabase>, site: SiteRow, item: SiteSample, projectId: string): Promise<string> {
    // a sample made from a verdict links central's copy of the site's incident, when it is here
    const incident = item.incidentId
      ? await trx
          .selectFrom("incidents")
          .select("id")
          .where("site_id", "=", site.id)
          .where("site_incident_id", "=", item.incidentId)
          .executeTakeFirst()
      : undefined;
    const row = sampleRow({
      project_id: projectId,
      source: siteSource(site.id),
      created_at: item.createdAt,
      image_sha256: item.image.sha256,
      image_format: item.image.format,
      width: item.image.width,
      height: item.image.height,
      device_id: item.deviceId,
      incident_id: incident?.id ?? null,
      // event ids are namespaced by the site on central, as its incidents' are
      event_id: item.eventId ? `${site.id}:${item.eventId}` : null,
      reason: item.reason ?? `${item.siteSource} on site ${site.id}`,
      captured_at: item.capturedAt,
      prediction: item.prediction ? JSON.stringify(item.prediction) : null,
      group_key: item.groupKey,
      external_key: `${siteSource(site.id)}:${item.id}`,
    });
    await trx.insertInto("samples").values(row).execute();
    return row.id;
  }

  async #projects(site: SiteRow): Promise<Map<string, { id: string; labels: string[] }>> {
    const slugs = siteProjects(site);
    if (slugs.length === 0) return new Map();
    const rows = await this.#db
      .selectFrom("projects")
      .select(["id", "slug", "labels"])
      .where("slug", "in", slugs)
      .execute();
    return new Map(rows.map((r) => [r.slug, { id: r.id, labels: JSON.parse(r.labels) as string[] }]));
  }
}
