import { Readable } from "node:stream";
import { type ExportQuery, KensaError, type LabelContent } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import type { ProjectService } from "../projects/project-service.js";
import { archiveWriter, buildExport, type ExportPlan } from "./export-build.js";
import { type ExportItem, stemOf } from "./formats/dataset-format.js";
import type { FormatRegistry } from "./formats/format-registry.js";
import { currentRevisions } from "./sample-rows.js";
import type { SnapshotService } from "./snapshot-service.js";

export interface OpenedExport {
  stream: Readable;
  contentType: string;
  filename: string;
}

/**
 * Streams a project's labeled samples, or a snapshot (optionally one split), as a dataset
 * archive in a standard layout, plus `kensa-export.json` naming what it holds and what the
 * format could not express. Same snapshot and format → byte-identical archive.
 */
export class ExportService {
  #db: Kysely<HubDatabase>;
  #blobs: BlobStore;
  #projects: ProjectService;
  #snapshots: SnapshotService;
  #formats: FormatRegistry;

  constructor(
    db: Kysely<HubDatabase>,
    blobs: BlobStore,
    projects: ProjectService,
    snapshots: SnapshotService,
    formats: FormatRegistry,
  ) {
    this.#db = db;
    this.#blobs = blobs;
    this.#projects = projects;
    this.#snapshots = snapshots;
    this.#formats = formats;
  }

  async open(projectId: string, q: ExportQuery): Promise<OpenedExport> {
    const plan = await this.plan(projectId, q);
    const blobs = this.#blobs;
    return {
      stream: Readable.from(buildExport(plan, this.#formats, (sha) => blobs.get(sha))),
      contentType: plan.contentType,
      filename: plan.filename,
    };
  }

  /** What an export of `q` holds, with the names its files get; KENSA_ERR_SNAPSHOT_NOT_FOUND, KENSA_ERR_VALIDATION. */
  async plan(projectId: string, q: ExportQuery): Promise<ExportPlan> {
    const project = await this.#projects.get(projectId);
    let items: Array<Omit<ExportItem, "name">>;
    let labels = project.labels;
    let okLabels = project.okLabels;
    if (q.snapshot) {
      const m = await this.#snapshots.manifest(q.snapshot);
      if (m.projectId !== project.id) {
        throw new KensaError("KENSA_ERR_SNAPSHOT_NOT_FOUND", `snapshot ${q.snapshot} belongs to another project`);
      }
      // the snapshot's own label list: class indices (YOLO, COCO) stay those it was made with
      labels = m.labels;
      okLabels = m.okLabels;
      items = m.items
        .filter((i) => !q.split || i.split === q.split)
        .map((i) => ({ sampleId: i.sampleId, image: i.image, label: i.label.content }));
    } else {
      if (q.split) {
        throw new KensaError("KENSA_ERR_VALIDATION", "split needs a snapshot: splits exist only in snapshots", {
          issues: [{ path: "/split", message: "needs snapshot" }],
        });
      }
      const rows = await this.#db
        .selectFrom("samples")
        .selectAll()
        .where("project_id", "=", project.id)
        .where("label_status", "!=", "unlabeled")
        .where("image_sha256", "is not", null)
        .orderBy("id", "asc")
        .execute();
      const revs = await currentRevisions(this.#db, rows);
      items = rows.map((r) => ({
        sampleId: r.id,
        image: { sha256: r.image_sha256!, format: r.image_format!, width: Number(r.width), height: Number(r.height) },
        label: JSON.parse(revs.get(r.id)!.content) as LabelContent,
      }));
    }
    const meta = {
      schema: "kensa.export/v1",
      projectId: project.id,
      format: q.format,
      snapshot: q.snapshot ?? null,
      split: q.split ?? null,
      labels,
      okLabels,
    };
    const writer = archiveWriter(q.archive);
    const base = q.snapshot
      ? `${project.slug}-${q.snapshot.slice(0, 12)}${q.split ? `-${q.split}` : ""}`
      : project.slug;
    return {
      format: q.format,
      archive: q.archive ?? "zip",
      labels,
      okLabels,
      meta,
      items: await this.#name(items),
      filename: `${base}-${q.format}.${writer.extension}`,
      contentType: writer.contentType,
    };
  }

  /** File names from the imported names where unique and safe, else the sample id. */
  async #name(items: Array<Omit<ExportItem, "name">>): Promise<ExportItem[]> {
    const names = new Map<string, string | null>();
    const ids = items.map((i) => i.sampleId);
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.#db
        .selectFrom("samples")
        .select(["id", "item"])
        .where("id", "in", ids.slice(i, i + 500))
        .execute();
      for (const r of rows) names.set(r.id, r.item);
    }
    const count = new Map<string, number>();
    const base = items.map((i) => {
      const item = names.get(i.sampleId);
      const stem = item ? stemOf(item).replace(/[^A-Za-z0-9._-]/g, "_") : "";
      const b = stem && !stem.startsWith(".") ? stem : i.sampleId;
      count.set(b, (count.get(b) ?? 0) + 1);
      return b;
    });
    return items.map((i, k) => ({ ...i, name: count.get(base[k]!)! > 1 ? `${base[k]}_${i.sampleId}` : base[k]! }));
  }
}
