import {
  type CreatedSnapshot,
  type CreateSnapshot,
  canonicalJson,
  KensaError,
  type LabelContent,
  type Snapshot,
  type SnapshotDiff,
  type SnapshotManifest,
  type SnapshotParams,
  type SnapshotStats,
  type SplitName,
  sha256Hex,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubDatabase, SnapshotsTable } from "../db/schema.js";
import type { ProjectService } from "../projects/project-service.js";
import { classesOf } from "./label-content.js";
import { frozenReferences } from "./reference-service.js";
import { currentRevisions } from "./sample-rows.js";
import { effectiveGroupKey, splitOf } from "./split.js";

const SPLITS: SplitName[] = ["train", "val", "test"];

/**
 * Immutable, content-addressed dataset versions. The manifest (canonical JSON) holds every
 * sample's image hash, label content and hash, group and split; its sha256 is the snapshot
 * id. Same samples, labels and parameters → same bytes → same id, and the existing snapshot
 * is returned. Relabeling later adds revisions and never touches a stored manifest.
 */
export class SnapshotService {
  #db: Kysely<HubDatabase>;
  #blobs: BlobStore;
  #projects: ProjectService;

  constructor(db: Kysely<HubDatabase>, blobs: BlobStore, projects: ProjectService) {
    this.#db = db;
    this.#blobs = blobs;
    this.#projects = projects;
  }

  async create(projectId: string, input: CreateSnapshot): Promise<CreatedSnapshot> {
    const project = await this.#projects.get(projectId);
    const params: SnapshotParams = {
      seed: input.seed,
      ratios: input.ratios,
      groupBucketSec: input.groupBucketSec,
      include: input.include,
    };
    const { train, val, test } = params.ratios;
    if (!(train + val + test > 0)) {
      throw new KensaError("KENSA_ERR_VALIDATION", "split ratios must not all be 0", {
        issues: [{ path: "/ratios", message: "must not all be 0" }],
      });
    }
    const statuses = params.include === "reviewed" ? ["reviewed"] : ["labeled", "reviewed"];
    const all = await this.#db.selectFrom("samples").selectAll().where("project_id", "=", project.id).execute();
    const rows = all.filter((r) => statuses.includes(r.label_status) && r.image_sha256);
    const excluded = {
      noImage: all.filter((r) => statuses.includes(r.label_status) && !r.image_sha256).length,
      notLabeled: all.filter((r) => !statuses.includes(r.label_status)).length,
    };
    if (rows.length === 0) {
      throw new KensaError(
        "KENSA_ERR_SNAPSHOT_EMPTY",
        `project ${project.slug} has no ${params.include} sample with an image (${excluded.noImage} await their image, ${excluded.notLabeled} are not ${params.include})`,
      );
    }
    const revs = await currentRevisions(this.#db, rows);
    const items: SnapshotManifest["items"] = rows
      .map((r) => {
        const rev = revs.get(r.id)!;
        const groupKey = effectiveGroupKey(r, params.groupBucketSec);
        return {
          sampleId: r.id,
          image: { sha256: r.image_sha256!, format: r.image_format!, width: Number(r.width), height: Number(r.height) },
          label: { sha256: rev.content_sha256, content: JSON.parse(rev.content) as LabelContent },
          groupKey,
          split: splitOf(groupKey, params),
          ...(r.reference_key ? { referenceKey: r.reference_key } : {}),
        };
      })
      .sort((a, b) => (a.sampleId < b.sampleId ? -1 : 1));
    const manifest: SnapshotManifest = {
      schema: "kensa.snapshot/v1",
      projectId: project.id,
      task: project.task,
      labels: project.labels,
      okLabels: project.okLabels,
      params,
      items,
    };
    const used = new Set(items.flatMap((i) => (i.referenceKey ? [i.referenceKey] : [])));
    const references = await frozenReferences(this.#db, project.id, used);
    if (references) manifest.references = references;
    const bytes = Buffer.from(canonicalJson(manifest));
    const id = sha256Hex(bytes);
    const existing = await this.#row(id);
    if (existing) return { ...toSnapshot(existing), created: false };
    const put = await this.#blobs.put(bytes);
    if (put.sha256 !== id) throw new KensaError("KENSA_ERR_INTERNAL", "the manifest blob hash differs from its id");
    const row: SnapshotsTable = {
      id,
      project_id: project.id,
      name: input.name ?? null,
      params: JSON.stringify(params),
      sample_count: items.length,
      stats: JSON.stringify(snapshotStats(manifest)),
      excluded: JSON.stringify(excluded),
      created_by: input.by,
      created_at: isoNow(),
    };
    const res = await this.#db
      .insertInto("snapshots")
      .values(row)
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    const created = Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
    return { ...toSnapshot(created ? row : ((await this.#row(id)) ?? row)), created };
  }

  /** throws KENSA_ERR_SNAPSHOT_NOT_FOUND */
  async get(id: string): Promise<Snapshot> {
    const row = await this.#row(id);
    if (!row) throw new KensaError("KENSA_ERR_SNAPSHOT_NOT_FOUND", `no snapshot ${id}`);
    return toSnapshot(row);
  }

  async list(projectId: string): Promise<Snapshot[]> {
    await this.#projects.get(projectId);
    const rows = await this.#db
      .selectFrom("snapshots")
      .selectAll()
      .where("project_id", "=", projectId)
      .orderBy("created_at", "desc")
      .execute();
    return rows.map(toSnapshot);
  }

  /** The manifest as stored: the exact bytes whose sha256 is the id. */
  async manifestBytes(id: string): Promise<Uint8Array> {
    await this.get(id);
    const bytes = await this.#blobs.get(id);
    if (!bytes)
      throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `the manifest of snapshot ${id} is missing from the blob store`);
    return bytes;
  }

  async manifest(id: string): Promise<SnapshotManifest> {
    return JSON.parse(Buffer.from(await this.manifestBytes(id)).toString("utf8")) as SnapshotManifest;
  }

  async diff(fromId: string, toId: string): Promise<SnapshotDiff> {
    const [a, b] = await Promise.all([this.manifest(fromId), this.manifest(toId)]);
    const before = new Map(a.items.map((i) => [i.sampleId, i]));
    const out: SnapshotDiff = {
      from: fromId,
      to: toId,
      added: [],
      removed: [],
      relabeled: [],
      moved: [],
      unchanged: 0,
    };
    for (const it of b.items) {
      const old = before.get(it.sampleId);
      if (!old) out.added.push(it.sampleId);
      else if (old.label.sha256 !== it.label.sha256) {
        out.relabeled.push({ sampleId: it.sampleId, from: old.label.sha256, to: it.label.sha256 });
      } else if (old.split !== it.split) out.moved.push({ sampleId: it.sampleId, from: old.split, to: it.split });
      else out.unchanged++;
      before.delete(it.sampleId);
    }
    out.removed = [...before.keys()];
    return out;
  }

  #row(id: string): Promise<Selectable<SnapshotsTable> | undefined> {
    return this.#db.selectFrom("snapshots").selectAll().where("id", "=", id).executeTakeFirst();
  }
}

/** Samples, groups, images per class and objects per class, in total and per split. */
export function snapshotStats(m: SnapshotManifest): SnapshotStats {
  const empty = () => ({
    samples: 0,
    groups: 0,
    images: {} as Record<string, number>,
    objects: {} as Record<string, number>,
  });
  const total = empty();
  const splits = { train: empty(), val: empty(), test: empty() };
  const groups = {
    total: new Set<string>(),
    train: new Set<string>(),
    val: new Set<string>(),
    test: new Set<string>(),
  };
  for (const it of m.items) {
    for (const [c, g] of [
      [total, groups.total],
      [splits[it.split], groups[it.split]],
    ] as const) {
      c.samples++;
      g.add(it.groupKey);
      for (const cls of classesOf(it.label.content)) c.images[cls] = (c.images[cls] ?? 0) + 1;
      for (const o of it.label.content.objects) c.objects[o.label] = (c.objects[o.label] ?? 0) + 1;
    }
  }
  total.groups = groups.total.size;
  for (const s of SPLITS) splits[s].groups = groups[s].size;
  return { total, splits };
}

function toSnapshot(r: Selectable<SnapshotsTable>): Snapshot {
  return {
    id: r.id,
    projectId: r.project_id,
    name: r.name,
    params: JSON.parse(r.params) as SnapshotParams,
    sampleCount: Number(r.sample_count),
    stats: JSON.parse(r.stats) as SnapshotStats,
    excluded: JSON.parse(r.excluded) as Snapshot["excluded"],
    createdAt: r.created_at,
    by: r.created_by,
  };
}
