import {
  type BundleManifest,
  type BundleTarget,
  type DeploymentPrecision,
  type GoldenSet,
  KensaError,
  type ModelVersion,
  type Precision,
  withProjectRule,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import type { ProjectService } from "../projects/project-service.js";
import { checkPrecision, chooseTarget, type Int8Eligibility, int8Eligibility, targetKey } from "./bundle-target.js";
import { computeGoldenSet, goldenSourceFor } from "./golden-frames.js";

/** One bundle of a deployment, before it is stored: its manifest and the blobs it pins. */
export interface PlannedBundle {
  target: BundleTarget;
  manifest: BundleManifest;
  /** blobs a device of the project may fetch because this bundle names them */
  files: Array<{ sha256: string; role: "model" | "golden" }>;
}

/** The bundles of one deployment, one per target, and the target of each device. */
export interface BundlePlan {
  precision: DeploymentPrecision;
  int8: Int8Eligibility;
  /** by target key, in the order devices first needed them */
  bundles: Map<string, PlannedBundle>;
  /** device id → target key */
  byDevice: Map<string, string>;
}

/** golden sets computed lately, by model file, manifest and snapshot: a redeploy runs no inference */
const GOLDEN_CACHE = 32;

/**
 * Builds the bundle manifests of a deployment, one per target (architecture, precision,
 * runtime) among its devices: the model file of the target's precision, its golden frames with
 * the outputs the hub computed for that file, and the target. Storing them is the caller's.
 */
export class BundleBuilder {
  readonly #db: Kysely<HubDatabase>;
  readonly #blobs: BlobStore;
  readonly #golden = new Map<string, { golden: GoldenSet; size: number }>();

  constructor(db: Kysely<HubDatabase>, blobs: BlobStore) {
    this.#db = db;
    this.#blobs = blobs;
  }

  async plan(input: {
    model: ModelVersion;
    project: Awaited<ReturnType<ProjectService["get"]>>;
    devices: ReadonlyArray<{ id: string; arch: string }>;
    precision: DeploymentPrecision;
  }): Promise<BundlePlan> {
    const { model, project, precision } = input;
    checkPrecision(precision, model);
    const int8 = await int8Eligibility(this.#db, model);
    const bundles = new Map<string, PlannedBundle>();
    const byDevice = new Map<string, string>();
    const manifest = withProjectRule(model.manifest, project.rule, project);
    for (const d of input.devices) {
      const target = chooseTarget(precision, int8, d.arch);
      const key = targetKey(target);
      byDevice.set(d.id, key);
      if (bundles.has(key)) continue;
      const fileSha = target.precision === "int8" && model.int8Sha256 ? model.int8Sha256 : model.sha256;
      const { golden, size } = await this.#goldenSet(model, manifest, target.precision, fileSha);
      bundles.set(key, {
        target,
        // createdAt is the model version's, so deploying the same version again to the same
        // target yields the same bundle id and agents that already hold it download nothing
        manifest: {
          schema: "kensa.bundle/v1",
          name: `${project.slug}-v${model.version}${target.precision === "int8" ? "-int8" : ""}`,
          createdAt: model.createdAt,
          projectId: project.id,
          modelVersionId: model.id,
          model: { sha256: fileSha, size, format: "onnx" },
          manifest,
          target,
          golden,
        },
        files: [
          { sha256: fileSha, role: "model" },
          ...golden.frames.map((f) => ({ sha256: f.sha256, role: "golden" as const })),
        ],
      });
    }
    return { precision, int8, bundles, byDevice };
  }

  async #goldenSet(
    model: ModelVersion,
    manifest: BundleManifest["manifest"],
    precision: Precision,
    fileSha: string,
  ): Promise<{ golden: GoldenSet; size: number }> {
    const source = await goldenSourceFor(this.#db, this.#blobs, model);
    const key = `${fileSha}|${source.snapshotId}|${JSON.stringify(manifest)}|${precision}`;
    const cached = this.#golden.get(key);
    if (cached) return cached;
    const bytes = await this.#blobs.get(fileSha);
    if (!bytes) {
      throw new KensaError(
        "KENSA_ERR_BLOB_NOT_FOUND",
        `the ${precision} file of model ${model.id} (${fileSha}) is missing`,
      );
    }
    const done = {
      golden: await computeGoldenSet(bytes, manifest, precision, source, this.#blobs),
      size: bytes.byteLength,
    };
    this.#golden.set(key, done);
    if (this.#golden.size > GOLDEN_CACHE) this.#golden.delete(this.#golden.keys().next().value!);
    return done;
  }
}
