import {
  type CaptureQuery,
  type CaptureReply,
  type CreateLabelRevision,
  type DatasetStats,
  type Incident,
  type InferenceResult,
  KensaError,
  type LabelContent,
  type LabelingQueue,
  type LabelObject,
  type Sample,
  type SampleQuery,
  type SampleWithHistory,
  type UploadSampleQuery,
  type Verdict,
} from "@kensa/contracts";
import type { ImageInfo } from "@kensa/vision";
import type { Kysely } from "kysely";
import sharp from "sharp";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import { probeImageWithin } from "../limits/image-gate.js";
import type { ProjectRecord, ProjectService } from "../projects/project-service.js";
import { canonicalLabel, classesOf, labelProblem } from "./label-content.js";
import { labelingQueue } from "./labeling-queue.js";
import { requireReferenceKey } from "./reference-service.js";
import { appendRevision, revisionRow, sampleRow, toRevision, toSample, toSamples } from "./sample-rows.js";

/** Samples (an image with provenance) and their label revisions. */
export class SampleService {
  #db: Kysely<HubDatabase>;
  #blobs: BlobStore;
  #projects: ProjectService;

  constructor(db: Kysely<HubDatabase>, blobs: BlobStore, projects: ProjectService) {
    this.#db = db;
    this.#blobs = blobs;
    this.#projects = projects;
  }

  /** throws KENSA_ERR_SAMPLE_NOT_FOUND */
  async get(id: string): Promise<SampleWithHistory> {
    const row = await this.#db.selectFrom("samples").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_SAMPLE_NOT_FOUND", `no sample with id "${id}"`);
    const revs = await this.#db
      .selectFrom("label_revisions")
      .selectAll()
      .where("sample_id", "=", id)
      .orderBy("rev", "asc")
      .execute();
    const current = revs.find((r) => r.id === row.current_revision_id) ?? null;
    return { ...toSample(row, current), revisions: revs.map(toRevision) };
  }

  async list(projectId: string, q: SampleQuery): Promise<Sample[]> {
    await this.#projects.get(projectId);
    let query = this.#db
      .selectFrom("samples")
      .selectAll()
      .where("project_id", "=", projectId)
      .orderBy("id", "asc")
      .limit(q.limit);
    if (q.status) query = query.where("label_status", "=", q.status);
    if (q.source) query = query.where("source", "=", q.source);
    if (q.after) query = query.where("id", ">", q.after);
    return toSamples(this.#db, await query.execute());
  }

  /** The image of a sample, for streaming. */
  async image(id: string): Promise<{ sha256: string; contentType: string }> {
    const s = await this.get(id);
    if (!s.image)
      throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `sample ${id} has no image yet (its media has not arrived)`);
    return { sha256: s.image.sha256, contentType: `image/${s.image.format}` };
  }

  /** An image uploaded by a person or a generator, labeled when `classes` are given. */
  async upload(projectId: string, bytes: Uint8Array, q: UploadSampleQuery): Promise<Sample> {
    const project = await this.#projects.get(projectId);
    const info = await probeImageWithin(bytes);
    const classes = q.classes
      ? q.classes
          .split(",")
          .map((c) => c.trim())
          .filter(Boolean)
      : [];
    const content = classes.length > 0 ? canonicalLabel({ classes, anomaly: anomalyOf(project, classes) }) : null;
    const problem = content ? labelProblem(content, project.labels, info) : null;
    if (problem) throw new KensaError("KENSA_ERR_LABEL_INVALID", problem);
    if (q.referenceKey) await requireReferenceKey(this.#db, project.id, q.referenceKey);
    const { sha256 } = await this.#blobs.put(bytes);
    const now = isoNow();
    const row = sampleRow({
      project_id: project.id,
      source: q.source,
      created_at: now,
      image_sha256: sha256,
      image_format: info.format,
      width: info.width,
      height: info.height,
      reason: q.reason ?? null,
      group_key: q.groupKey ?? null,
      reference_key: q.referenceKey ?? null,
    });
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto("samples").values(row).execute();
      if (content) {
        await appendRevision(trx, row.id, (rev) =>
          revisionRow({
            sampleId: row.id,
            rev,
            content,
            status: "labeled",
            by: q.by,
            source: "upload",
            createdAt: now,
          }),
        );
      }
    });
    return this.get(row.id);
  }

  /**
   * A frame a device kept for learning (low confidence, disagreement, …). Idempotent per
   * device and capture id, so an agent may retry an upload whose reply it lost.
   */
  async capture(
    device: { deviceId: string; projectId: string },
    captureId: string,
    bytes: Uint8Array,
    q: CaptureQuery,
  ): Promise<CaptureReply> {
    const key = `capture:${device.deviceId}:${captureId}`;
    const existing = await this.#byKey(device.projectId, key);
    if (existing) return { sample: await this.get(existing), created: false };
    const info = await probeImageWithin(bytes);
    const { sha256 } = await this.#blobs.put(bytes);
    const row = sampleRow({
      project_id: device.projectId,
      source: "capture",
      created_at: isoNow(),
      image_sha256: sha256,
      image_format: info.format,
      width: info.width,
      height: info.height,
      device_id: device.deviceId,
      reason: q.reason,
      captured_at: q.ts ?? isoNow(),
      prediction:
        q.label !== undefined && q.score !== undefined ? JSON.stringify({ label: q.label, score: q.score }) : null,
      external_key: key,
    });
    const res = await this.#db
      .insertInto("samples")
      .values(row)
      .onConflict((oc) => oc.columns(["project_id", "external_key"]).doNothing())
      .executeTakeFirst();
    const created = Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
    const id = created ? row.id : await this.#byKey(device.projectId, key);
    return { sample: await this.get(id ?? row.id), created };
  }

  /** A person's label (or review of the current one): a new immutable revision. */
  async addRevision(sampleId: string, input: CreateLabelRevision & { by: string }): Promise<SampleWithHistory> {
    const sample = await this.get(sampleId);
    const project = await this.#projects.get(sample.projectId);
    const content = input.content ?? sample.label?.content;
    if (!content) {
      throw new KensaError("KENSA_ERR_LABEL_INVALID", `sample ${sampleId} has no label to review; send \`content\``);
    }
    const canonical = canonicalLabel(content);
    const problem = labelProblem(canonical, project.labels, sample.image);
    if (problem) throw new KensaError("KENSA_ERR_LABEL_INVALID", problem);
    for (const o of canonical.objects) {
      if ((o.box || o.mask) && !sample.image) {
        throw new KensaError(
          "KENSA_ERR_LABEL_INVALID",
          `sample ${sampleId} has no image yet; boxes and masks need one`,
        );
      }
      if (o.mask && !(await this.#blobs.has(o.mask))) {
        throw new KensaError("KENSA_ERR_LABEL_INVALID", `mask ${o.mask} is not a stored blob`);
      }
    }
    const now = isoNow();
    await this.#db.transaction().execute(async (trx) => {
      await appendRevision(trx, sampleId, (rev) =>
        revisionRow({
          sampleId,
          rev,
          content: canonical,
          status: input.status,
          by: input.by,
          source: "labeler",
          createdAt: now,
        }),
      );
    });
    return this.get(sampleId);
  }

  /**
   * Turns a verdict into a label revision of the incident's sample (created on the first
   * verdict), inside the verdict's transaction: a verdict never exists without its label.
   * Confirmed → the model's finding; false alarm → the project's first OK label (or no class:
   * background); relabel → the corrected labels. If the incident's media has not arrived,
   * the sample has no image until `attachEventMedia` gives it one.
   */
  async labelFromVerdict(
    trx: Kysely<HubDatabase>,
    incident: Incident,
    verdict: Verdict,
    project: ProjectRecord,
  ): Promise<void> {
    const key = `incident:${incident.id}`;
    const event = await trx
      .selectFrom("events")
      .select(["ts", "result"])
      .where("id", "=", incident.eventId)
      .executeTakeFirst();
    let sampleId = await this.#byKey(project.id, key, trx);
    let image: { width: number; height: number } | null = null;
    if (!sampleId) {
      // reads a stored blob's header only (no decode): cheap enough inside the transaction
      const info = incident.mediaSha256 ? await this.#imageInfo(incident.mediaSha256) : null;
      const row = sampleRow({
        project_id: project.id,
        source: "verdict",
        created_at: verdict.createdAt,
        device_id: incident.deviceId,
        incident_id: incident.id,
        event_id: incident.eventId,
        reason: `incident: ${incident.rule}`,
        captured_at: event?.ts ?? incident.createdAt,
        prediction: JSON.stringify({ label: incident.label, score: incident.score }),
        external_key: key,
        ...(info && incident.mediaSha256
          ? { image_sha256: incident.mediaSha256, image_format: info.format, width: info.width, height: info.height }
          : {}),
      });
      await trx.insertInto("samples").values(row).execute();
      sampleId = row.id;
      image = info;
    } else {
      const row = await trx
        .selectFrom("samples")
        .select(["width", "height"])
        .where("id", "=", sampleId)
        .executeTakeFirst();
      if (row?.width && row.height) image = { width: Number(row.width), height: Number(row.height) };
    }
    const result = event ? (JSON.parse(event.result) as InferenceResult) : null;
    const content = verdictLabel(project, verdict, result, image);
    const id = sampleId;
    await appendRevision(trx, id, (rev) =>
      revisionRow({
        sampleId: id,
        rev,
        content,
        status: "labeled",
        by: verdict.by,
        source: "verdict",
        verdictId: verdict.id,
        createdAt: verdict.createdAt,
      }),
    );
  }

  /**
   * Media of an event arrived: samples made from its incident before it came get it now.
   * A sample's image never changes once set, since its labels are drawn on those pixels.
   */
  async attachEventMedia(
    trx: Kysely<HubDatabase>,
    media: { eventId: string; deviceId: string; sha256: string; info: ImageInfo },
  ): Promise<void> {
    await trx
      .updateTable("samples")
      .set({
        image_sha256: media.sha256,
        image_format: media.info.format,
        width: media.info.width,
        height: media.info.height,
      })
      .where("event_id", "=", media.eventId)
      .where("device_id", "=", media.deviceId)
      .where("image_sha256", "is", null)
      .execute();
  }

  /** The labeling queue: verdicts first, then captures, then other unlabeled samples. */
  async queue(projectId: string, limit: number): Promise<LabelingQueue> {
    return labelingQueue(this.#db, await this.#projects.get(projectId), limit);
  }

  async stats(projectId: string): Promise<DatasetStats> {
    await this.#projects.get(projectId);
    const rows = await this.#db
      .selectFrom("samples")
      .leftJoin("label_revisions", "label_revisions.id", "samples.current_revision_id")
      .select(["samples.label_status", "samples.source", "samples.image_sha256", "label_revisions.content"])
      .where("samples.project_id", "=", projectId)
      .execute();
    const out: DatasetStats = {
      projectId,
      samples: rows.length,
      withoutImage: 0,
      byStatus: {},
      bySource: {},
      byClass: {},
    };
    for (const r of rows) {
      out.byStatus[r.label_status] = (out.byStatus[r.label_status] ?? 0) + 1;
      out.bySource[r.source] = (out.bySource[r.source] ?? 0) + 1;
      if (!r.image_sha256) out.withoutImage++;
      if (r.content) {
        for (const c of classesOf(JSON.parse(r.content) as LabelContent)) out.byClass[c] = (out.byClass[c] ?? 0) + 1;
      }
    }
    return out;
  }

  async #byKey(projectId: string, key: string, db: Kysely<HubDatabase> = this.#db): Promise<string | null> {
    const row = await db
      .selectFrom("samples")
      .select("id")
      .where("project_id", "=", projectId)
      .where("external_key", "=", key)
      .executeTakeFirst();
    return row?.id ?? null;
  }

  async #imageInfo(sha256: string): Promise<ImageInfo | null> {
    const bytes = await this.#blobs.get(sha256);
    if (!bytes) return null;
    try {
      const m = await sharp(bytes).metadata();
      if ((m.format !== "jpeg" && m.format !== "png") || !m.width || !m.height) return null;
      return { format: m.format, width: m.width, height: m.height };
    } catch {
      return null;
    }
  }
}

/**
 * What a verdict says as a label. A confirmation without corrected labels keeps the model's
 * finding: its class and, for detection, segmentation and anomaly results, the boxes of its
 * non-OK detections or regions (clipped to the image when its size is known).
 */
export function verdictLabel(
  project: ProjectRecord,
  verdict: Verdict,
  result: InferenceResult | null,
  image: { width: number; height: number } | null,
): LabelContent {
  let classes = verdict.labels;
  if (verdict.verdict === "false_alarm" && classes.length === 0) {
    classes = project.okLabels[0] ? [project.okLabels[0]] : [];
  }
  const objects: LabelObject[] = [];
  if (verdict.verdict === "confirmed" && result && result.task !== "classification") {
    const found = result.task === "detection" ? result.detections : result.regions;
    for (const f of found) {
      if (project.okLabels.includes(f.label) || !project.labels.includes(f.label)) continue;
      const [x, y, w, h] = f.box;
      const x0 = Math.max(0, x);
      const y0 = Math.max(0, y);
      const x1 = image ? Math.min(image.width, x + w) : x + w;
      const y1 = image ? Math.min(image.height, y + h) : y + h;
      if (x1 > x0 && y1 > y0) objects.push({ label: f.label, box: { x: x0, y: y0, w: x1 - x0, h: y1 - y0 } });
    }
  }
  const all = [...new Set([...classes, ...objects.map((o) => o.label)])];
  return canonicalLabel({ classes: all, objects, anomaly: anomalyOf(project, all) });
}

function anomalyOf(project: ProjectRecord, classes: string[]): boolean | null {
  return project.task === "anomaly" ? classes.some((c) => !project.okLabels.includes(c)) : null;
}
