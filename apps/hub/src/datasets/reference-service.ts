import { randomBytes } from "node:crypto";
import { type AddReferenceQuery, KensaError, type ProjectReference, type SnapshotManifest } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { ProjectReferencesTable } from "../db/schema/references.js";
import type { HubDatabase } from "../db/schema.js";
import { probeImageWithin } from "../limits/image-gate.js";
import type { ProjectService } from "../projects/project-service.js";

/** smallest side (px) of a reference: the alignment needs an interior to compare */
export const REFERENCE_MIN_SIDE = 16;

/** What a snapshot freezes of a project's references: each key's image, and the default key. */
export type FrozenReferences = NonNullable<SnapshotManifest["references"]>;

/**
 * The golden references of reference-image inspection (docs/datasets.md "Reference images"): one
 * image per product / recipe key of a project, stored as a blob; exactly one of a project's
 * references is its default (the first one registered, or the one last added with `default`).
 */
export class ReferenceService {
  readonly #db: Kysely<HubDatabase>;
  readonly #blobs: BlobStore;
  readonly #projects: ProjectService;

  constructor(db: Kysely<HubDatabase>, blobs: BlobStore, projects: ProjectService) {
    this.#db = db;
    this.#blobs = blobs;
    this.#projects = projects;
  }

  /** Registers the image of `q.key`, replacing the key's earlier image. */
  async add(projectId: string, bytes: Uint8Array, q: AddReferenceQuery & { by: string }): Promise<ProjectReference> {
    const project = await this.#projects.get(projectId);
    if (project.task !== "classification" && project.task !== "segmentation") {
      throw new KensaError(
        "KENSA_ERR_REFERENCE_INVALID",
        `project ${project.slug} is a ${project.task} project; reference-image inspection is for classification and segmentation`,
      );
    }
    const info = await probeImageWithin(bytes).catch((e: unknown) => {
      if (e instanceof KensaError && e.code === "KENSA_ERR_MEDIA_INVALID") {
        throw new KensaError("KENSA_ERR_REFERENCE_INVALID", `reference "${q.key}" does not decode: ${e.message}`);
      }
      throw e;
    });
    if (Math.min(info.width, info.height) < REFERENCE_MIN_SIDE) {
      throw new KensaError(
        "KENSA_ERR_REFERENCE_INVALID",
        `reference "${q.key}" is ${info.width}×${info.height}; a reference is at least ${REFERENCE_MIN_SIDE} px on each side`,
      );
    }
    const { sha256 } = await this.#blobs.put(bytes);
    const row: ProjectReferencesTable = {
      id: `ref_${randomBytes(12).toString("base64url")}`,
      project_id: project.id,
      key: q.key,
      image_sha256: sha256,
      image_format: info.format,
      width: info.width,
      height: info.height,
      is_default: 0,
      created_by: q.by,
      created_at: isoNow(),
    };
    await this.#db.transaction().execute(async (trx) => {
      const old = await trx
        .selectFrom("project_references")
        .select(["key", "is_default"])
        .where("project_id", "=", project.id)
        .execute();
      const wasDefault = old.some((r) => r.key === q.key && r.is_default === 1);
      row.is_default = q.default || old.length === 0 || wasDefault ? 1 : 0;
      if (row.is_default) {
        await trx
          .updateTable("project_references")
          .set({ is_default: 0 })
          .where("project_id", "=", project.id)
          .execute();
      }
      await trx
        .deleteFrom("project_references")
        .where("project_id", "=", project.id)
        .where("key", "=", q.key)
        .execute();
      await trx.insertInto("project_references").values(row).execute();
    });
    return toReference(row);
  }

  /** The project's references, the default first, then by key. */
  async list(projectId: string): Promise<ProjectReference[]> {
    const project = await this.#projects.get(projectId);
    const rows = await this.#db
      .selectFrom("project_references")
      .selectAll()
      .where("project_id", "=", project.id)
      .orderBy("is_default", "desc")
      .orderBy("key")
      .execute();
    return rows.map(toReference);
  }

  /** Removes a key; when it was the default, the earliest registered of the others becomes it. */
  async remove(projectId: string, key: string): Promise<void> {
    const project = await this.#projects.get(projectId);
    await this.#db.transaction().execute(async (trx) => {
      const gone = await trx
        .deleteFrom("project_references")
        .where("project_id", "=", project.id)
        .where("key", "=", key)
        .returning("is_default")
        .executeTakeFirst();
      if (!gone) throw notFound(project.id, key);
      if (gone.is_default !== 1) return;
      const next = await trx
        .selectFrom("project_references")
        .select("id")
        .where("project_id", "=", project.id)
        .orderBy("created_at")
        .orderBy("key")
        .executeTakeFirst();
      if (next) await trx.updateTable("project_references").set({ is_default: 1 }).where("id", "=", next.id).execute();
    });
  }
}

/** Throws KENSA_ERR_REFERENCE_NOT_FOUND unless the project has a reference of `key`. */
export async function requireReferenceKey(db: Kysely<HubDatabase>, projectId: string, key: string): Promise<void> {
  const row = await db
    .selectFrom("project_references")
    .select("id")
    .where("project_id", "=", projectId)
    .where("key", "=", key)
    .executeTakeFirst();
  if (!row) throw notFound(projectId, key);
}

function notFound(projectId: string, key: string): KensaError {
  return new KensaError(
    "KENSA_ERR_REFERENCE_NOT_FOUND",
    `project ${projectId} has no reference "${key}" — register it with kensa project reference add`,
  );
}

function toReference(r: ProjectReferencesTable): ProjectReference {
  return {
    key: r.key,
    sha256: r.image_sha256,
    format: r.image_format === "png" ? "png" : "jpeg",
    width: r.width,
    height: r.height,
    isDefault: r.is_default === 1,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

/**
 * The project's references as a snapshot freezes them (sorted by key), or null when it has none.
 * Throws KENSA_ERR_REFERENCE_NOT_FOUND when one of `usedKeys` (the samples' keys) has none.
 */
export async function frozenReferences(
  db: Kysely<HubDatabase>,
  projectId: string,
  usedKeys: Iterable<string>,
): Promise<FrozenReferences | null> {
  const rows = await db
    .selectFrom("project_references")
    .select(["key", "image_sha256", "is_default"])
    .where("project_id", "=", projectId)
    .orderBy("key")
    .execute();
  const keys = new Set(rows.map((r) => r.key));
  for (const k of usedKeys) if (!keys.has(k)) throw notFound(projectId, k);
  const def = rows.find((r) => r.is_default === 1);
  if (!def) return null;
  return { defaultKey: def.key, images: rows.map((r) => ({ key: r.key, sha256: r.image_sha256 })) };
}
