import type { Readable } from "node:stream";
import {
  KensaError,
  type ModelLineage,
  type ModelManifest,
  ModelManifest as ModelManifestSchema,
  type ModelVersion,
  parseWith,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubDatabase, ModelVersionsTable } from "../db/schema.js";
import { newId } from "../ids.js";
import type { ProjectService } from "../projects/project-service.js";
import { SerialQueue } from "../serial-queue.js";

/** Checks that ONNX bytes load and match their manifest; throws a KensaError when not. */
export type ModelChecker = (modelBytes: Uint8Array, manifest: ModelManifest) => Promise<void>;

export interface ModelUpload {
  projectId: string;
  /** the manifest as uploaded (JSON text) */
  manifest: string;
  bytes: Uint8Array;
  name?: string;
  source?: string;
  /** training lineage (a run registering its model) */
  lineage?: ModelLineage;
  /** an int8 variant of the same model, checked against the same manifest */
  int8Bytes?: Uint8Array;
  /**
   * runs inside the transaction that inserts the version: whatever it writes commits with the
   * version or not at all (a run's completion, its gate job)
   */
  onInsert?: (trx: Kysely<HubDatabase>, version: ModelVersion) => Promise<void>;
}

/** The model registry: immutable, versioned ONNX artifacts per project. */
export class ModelService {
  #db: Kysely<HubDatabase>;
  #blobs: BlobStore;
  #projects: ProjectService;
  #check: ModelChecker;
  /** version numbers are max+1 per project; registering one at a time keeps them gap- and clash-free */
  #queue = new SerialQueue();

  constructor(db: Kysely<HubDatabase>, blobs: BlobStore, projects: ProjectService, check: ModelChecker) {
    this.#db = db;
    this.#blobs = blobs;
    this.#projects = projects;
    this.#check = check;
  }

  /**
   * Validates everything first (manifest, labels, the ONNX itself), and only then stores the
   * blob and the row, so a rejected upload leaves nothing behind.
   */
  async register(upload: ModelUpload): Promise<ModelVersion> {
    const project = await this.#projects.get(upload.projectId);
    let raw: unknown;
    try {
      raw = JSON.parse(upload.manifest);
    } catch (err) {
      throw new KensaError("KENSA_ERR_MANIFEST_INVALID", `the model manifest is not JSON: ${(err as Error).message}`);
    }
    const manifest = parseWith(ModelManifestSchema, raw, "KENSA_ERR_MANIFEST_INVALID", "model manifest");
    if (manifest.task !== project.task) {
      throw new KensaError(
        "KENSA_ERR_MANIFEST_INVALID",
        `model manifest is invalid: /task: "${manifest.task}" but project ${project.slug} is "${project.task}"`,
        { issues: [{ path: "/task", message: `must be "${project.task}"` }] },
      );
    }
    if (JSON.stringify(manifest.labels) !== JSON.stringify(project.labels)) {
      throw new KensaError(
        "KENSA_ERR_MANIFEST_INVALID",
        `model manifest is invalid: /labels: [${manifest.labels.join(", ")}] must equal project ${project.slug}'s labels [${project.labels.join(", ")}] in order`,
        { issues: [{ path: "/labels", message: `must equal [${project.labels.join(", ")}]` }] },
      );
    }
    await this.#check(upload.bytes, manifest);
    if (upload.int8Bytes) await this.#check(upload.int8Bytes, manifest);

    return this.#queue.run(async () => {
      const { sha256, size } = await this.#blobs.put(upload.bytes);
      const int8 = upload.int8Bytes ? await this.#blobs.put(upload.int8Bytes) : null;
      const last = await this.#db
        .selectFrom("model_versions")
        .select((eb) => eb.fn.max("version").as("v"))
        .where("project_id", "=", project.id)
        .executeTakeFirst();
      const version = Number(last?.v ?? 0) + 1;
      const row: ModelVersionsTable = {
        id: newId("mdl"),
        project_id: project.id,
        version,
        name: upload.name?.trim() || `${project.slug} v${version}`,
        sha256,
        size,
        stage: "candidate",
        manifest: JSON.stringify(manifest),
        source: upload.source ?? "upload",
        created_at: isoNow(),
        run_id: upload.lineage?.runId ?? null,
        snapshot_id: upload.lineage?.snapshotId ?? null,
        lineage: upload.lineage ? JSON.stringify(upload.lineage) : null,
        int8_sha256: int8?.sha256 ?? null,
      };
      const created = fromRow(row);
      await this.#db.transaction().execute(async (trx) => {
        await trx.insertInto("model_versions").values(row).execute();
        await upload.onInsert?.(trx, created);
      });
      return created;
    });
  }

  /** Moves a version to another stage (the registry checks the transition first). */
  async setStage(trx: Kysely<HubDatabase>, id: string, stage: ModelVersion["stage"]): Promise<void> {
    await trx.updateTable("model_versions").set({ stage }).where("id", "=", id).execute();
  }

  async list(query: { projectId?: string } = {}): Promise<ModelVersion[]> {
    let q = this.#db.selectFrom("model_versions").selectAll().orderBy("project_id").orderBy("version", "desc");
    if (query.projectId) q = q.where("project_id", "=", query.projectId);
    const champions = new Set(
      (await this.#db.selectFrom("training_settings").select("champion_id").execute()).map((r) => r.champion_id),
    );
    return (await q.execute()).map((r) => ({ ...fromRow(r), champion: champions.has(r.id) }));
  }

  /** throws KENSA_ERR_MODEL_NOT_FOUND */
  async get(id: string, db: Kysely<HubDatabase> = this.#db): Promise<ModelVersion> {
    const row = await db.selectFrom("model_versions").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_MODEL_NOT_FOUND", `no model version with id "${id}"`);
    const champion = await db
      .selectFrom("training_settings")
      .select("champion_id")
      .where("project_id", "=", row.project_id)
      .executeTakeFirst();
    return { ...fromRow(row), champion: champion?.champion_id === row.id };
  }

  async openFile(id: string): Promise<{ stream: Readable; size: number; model: ModelVersion }> {
    const model = await this.get(id);
    const s = await this.#blobs.stream(model.sha256);
    if (!s) throw new KensaError("KENSA_ERR_BLOB_NOT_FOUND", `the file of model ${id} (${model.sha256}) is missing`);
    return { ...s, model };
  }
}

function fromRow(row: Selectable<ModelVersionsTable>): ModelVersion {
  return {
    id: row.id,
    projectId: row.project_id,
    version: Number(row.version),
    name: row.name,
    sha256: row.sha256,
    size: Number(row.size),
    stage: row.stage as ModelVersion["stage"],
    manifest: JSON.parse(row.manifest) as ModelManifest,
    source: row.source,
    createdAt: row.created_at,
    lineage: row.lineage ? (JSON.parse(row.lineage) as ModelLineage) : null,
    int8Sha256: row.int8_sha256 ?? null,
  };
}
