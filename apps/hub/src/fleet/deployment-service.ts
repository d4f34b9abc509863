import { type CreateDeployment, type Deployment, type DeploymentTargets, KensaError } from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { DeploymentsTable, HubDatabase } from "../db/schema.js";
import { newId } from "../ids.js";
import type { ProjectService } from "../projects/project-service.js";
import { SerialQueue } from "../serial-queue.js";
import { BundleBuilder } from "./bundle-build.js";
import { deviceArch } from "./bundle-target.js";
import { bundlesOfDeployments, deploymentTargets, inheritedTarget, recordTargets } from "./bundle-target-store.js";
import { clearPipeline } from "./desired-clear.js";
import { emptyDesired, type StoredBundleRef, type StoredDesired, withPipeline, withShadow } from "./desired-state.js";
import type { DesiredSync } from "./desired-sync.js";
import type { ModelLookup } from "./ports.js";
import type { SigningService } from "./signing-service.js";

/** Assigns a model version (as a content-addressed bundle) to devices and tags of its project. */
export class DeploymentService {
  #db: Kysely<HubDatabase>;
  #projects: ProjectService;
  #models: ModelLookup;
  #desired: DesiredSync;
  /** seals bundles with their sequence, signs them and downgrade grants */
  #signing: SigningService;
  /** deployments and enrollments both rewrite devices' desired state; one at a time */
  #fleet = new SerialQueue();
  /** per-target bundle manifests with their golden frames */
  #bundles: BundleBuilder;

  constructor(
    db: Kysely<HubDatabase>,
    blobs: BlobStore,
    projects: ProjectService,
    models: ModelLookup,
    desired: DesiredSync,
    signing: SigningService,
  ) {
    this.#db = db;
    this.#bundles = new BundleBuilder(db, blobs);
    this.#projects = projects;
    this.#models = models;
    this.#desired = desired;
    this.#signing = signing;
  }

  create(input: CreateDeployment): Promise<Deployment> {
    return this.#fleet.run(() => this.#create(input));
  }

  /**
   * After a project's incident rule changed, every deployment that still decides what a device
   * runs, or what a device enrolled later with a tag inherits, is made again with its own target,
   * oldest first, so its bundle carries the new rule and each device ends on the model it ran.
   * Devices hear once, at the end (no model flaps in between). Per-item results, never half-way.
   */
  async redeployForRule(
    projectId: string,
  ): Promise<{ ok: Deployment[]; failed: Array<{ item: string; code: string; message: string }> }> {
    return this.#fleet.run(async () => {
      const [rows, devices] = await Promise.all([
        this.#db.selectFrom("deployments").selectAll().where("project_id", "=", projectId).execute(),
        this.#db
          .selectFrom("devices")
          .select(["id", "desired", "retired_at"])
          .where("project_id", "=", projectId)
          .execute(),
      ]);
      rows.sort((a, b) => a.created_at.localeCompare(b.created_at));
      // current: a device's pipeline still wants its bundle, or it is the latest deployment
      // naming a tag (what inheritFor gives a device enrolled with that tag)
      const wanted = new Set<string>();
      for (const d of devices) {
        const desired = d.desired ? (JSON.parse(d.desired) as StoredDesired) : null;
        for (const p of desired?.pipelines ?? []) {
          if (p.bundle) wanted.add(`${p.id}|${p.bundle.sha256}`);
          if (p.shadow) wanted.add(`${p.id}|${p.shadow.sha256}`);
        }
      }
      const latestForTag = new Map<string, (typeof rows)[number]>();
      for (const r of rows) {
        if (r.role === "shadow") continue;
        for (const tag of (JSON.parse(r.target) as { tags: string[] }).tags)
          latestForTag.set(`${r.pipeline}|${tag}`, r);
      }
      const current = new Set([...latestForTag.values()]);
      for (const r of rows) if (wanted.has(`${r.pipeline}|${r.bundle_sha256}`)) current.add(r);
      // a deployment's per-target bundles: any of them still wanted keeps it current
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const t of await bundlesOfDeployments(this.#db, [...byId.keys()])) {
        const r = byId.get(t.deployment_id)!;
        if (wanted.has(`${r.pipeline}|${t.bundle_sha256}`)) current.add(r);
      }
      // replayed in creation order, each device ends where its last deployment put it
      const replay = rows.filter((r) => current.has(r));
      const ok: Deployment[] = [];
      const failed: Array<{ item: string; code: string; message: string }> = [];
      const touched = new Set<string>();
      // a device retired (or deleted) since is left out of the replay, not a reason to fail it
      const retired = new Set(devices.filter((d) => d.retired_at).map((d) => d.id));
      const inService = (t: CreateDeployment["target"]) => ({
        ...t,
        deviceIds: (t.deviceIds ?? []).filter((id) => !retired.has(id)),
      });
      for (const row of replay) {
        try {
          const made = await this.#create(
            {
              modelVersionId: row.model_version_id,
              pipeline: row.pipeline,
              target: inService(JSON.parse(row.target) as CreateDeployment["target"]),
              precision: (row.precision ?? "auto") as NonNullable<CreateDeployment["precision"]>,
              ...(row.role === "shadow" ? { shadow: true } : {}),
            },
            { publish: false },
          );
          for (const id of made.deviceIds) touched.add(id);
          ok.push(made);
        } catch (err) {
          const code = err instanceof KensaError ? err.code : "KENSA_ERR_INTERNAL";
          failed.push({ item: row.id, code, message: (err as Error).message });
        }
      }
      if (touched.size > 0) await this.#desired.sync([...touched]);
      return { ok, failed };
    });
  }

  /** Which bundle target each device of a deployment got, and its self-test parity (KENSA_ERR_DEPLOYMENT_NOT_FOUND). */
  targets(deploymentId: string): Promise<DeploymentTargets> {
    return deploymentTargets(this.#db, this.#models, deploymentId);
  }

  /** Takes a pipeline's bundle or shadow off these devices (a rollout sending back devices that had none). */
  clear(o: { deviceIds: readonly string[]; pipeline: string; role: "bundle" | "shadow" }): Promise<string[]> {
    return this.#fleet.run(async () => {
      const changed = await clearPipeline(this.#db, { ...o, now: isoNow() });
      if (changed.length > 0) await this.#desired.sync(changed);
      return changed;
    });
  }

  /** Runs `task` while no deployment is being created (enrollment uses it). */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.#fleet.run(task);
  }

  async #create(input: CreateDeployment, opts: { publish: boolean } = { publish: true }): Promise<Deployment> {
    const model = await this.#models.get(input.modelVersionId);
    // enforced here, not only in the console: every path that deploys comes through this
    if (model.stage === "rejected") {
      throw new KensaError(
        "KENSA_ERR_MODEL_NOT_DEPLOYABLE",
        `model ${model.name} v${model.version} was rejected; deploy an approved version or a candidate`,
        { modelVersionId: model.id, stage: model.stage },
      );
    }
    const project = await this.#projects.get(model.projectId);
    const pipeline = input.pipeline ?? "default";
    // a shadow runs beside the pipeline's bundle and never raises incidents (docs/rollouts.md)
    const shadow = input.shadow === true;
    const target = { deviceIds: [...(input.target.deviceIds ?? [])], tags: [...(input.target.tags ?? [])] };

    const all = await this.#db
      .selectFrom("devices")
      .select(["id", "tags", "retired_at", "arch", "reported"])
      .where("project_id", "=", project.id)
      .where("deleted_at", "is", null)
      .execute();
    // retired devices are out of service: named by id, refused; selected by a tag, left out
    const retired = all.filter((d) => d.retired_at && target.deviceIds.includes(d.id)).map((d) => d.id);
    if (retired.length > 0) {
      throw new KensaError("KENSA_ERR_DEVICE_RETIRED", `device ${retired.join(", ")} is retired`, {
        deviceIds: retired,
      });
    }
    const devices = all.filter((d) => !d.retired_at);
    const known = new Set(devices.map((d) => d.id));
    const missing = target.deviceIds.filter((id) => !known.has(id));
    if (missing.length > 0) {
      throw new KensaError("KENSA_ERR_DEVICE_NOT_FOUND", `no device ${missing.join(", ")} in project ${project.slug}`, {
        deviceIds: missing,
      });
    }
    const tagSet = new Set(target.tags);
    const deviceIds = devices
      .filter((d) => target.deviceIds.includes(d.id) || (JSON.parse(d.tags) as string[]).some((t) => tagSet.has(t)))
      .map((d) => d.id);
    if (deviceIds.length === 0) {
      throw new KensaError(
        "KENSA_ERR_DEPLOYMENT_NO_TARGETS",
        `no device of project ${project.slug} matches ids [${target.deviceIds.join(", ")}] or tags [${target.tags.join(", ")}]`,
      );
    }

    // One bundle per target (architecture, precision, runtime) among the devices, each with its
    // golden frames (bundle-build.ts). A bundle's createdAt is the model version's, so deploying
    // the same version again yields the same bundle ids and agents that already hold one
    // download nothing. The project's incident rule goes into every bundle: the device decides
    // what is an incident (and uploads its frame), the hub records what the device decided.
    const archOf = new Map(devices.map((d) => [d.id, deviceArch(d)]));
    const precision = input.precision ?? "auto";
    const plan = await this.#bundles.plan({
      model,
      project,
      devices: deviceIds.map((id) => ({ id, arch: archOf.get(id) ?? "any" })),
      precision,
    });
    const stored = new Map<string, { sha256: string; bytes: Uint8Array; sequence: number; ref: StoredBundleRef }>();
    for (const [key, planned] of plan.bundles) {
      // signed (detached) with the bundle's sequence when the hub signs (docs/bundles.md)
      const { sha256, bytes, sequence } = await this.#signing.putBundle(planned.manifest);
      const m = planned.manifest.model;
      stored.set(key, {
        sha256,
        bytes,
        sequence,
        ref: { sha256, modelVersionId: model.id, modelSha256: m.sha256, size: m.size },
      });
    }
    const bundleOf = (deviceId: string) => stored.get(plan.byDevice.get(deviceId)!)!;
    const targets = deviceIds.map((id) => {
      const b = bundleOf(id);
      const target = plan.bundles.get(plan.byDevice.get(id)!)!.target;
      return { deviceId: id, bundleSha256: b.sha256, target, modelSha256: b.ref.modelSha256, modelSize: b.ref.size };
    });
    const bundleSha256 = bundleOf(deviceIds[0]!).sha256;

    const now = isoNow();
    const row: DeploymentsTable = {
      id: newId("dep"),
      project_id: project.id,
      model_version_id: model.id,
      bundle_sha256: bundleSha256,
      pipeline,
      target: JSON.stringify(target),
      device_ids: JSON.stringify(deviceIds),
      created_at: now,
      precision,
      role: shadow ? "shadow" : "bundle",
    };
    await this.#db.transaction().execute(async (trx) => {
      for (const [key, b] of stored) {
        await trx
          .insertInto("bundles")
          .values({
            sha256: b.sha256,
            project_id: project.id,
            model_version_id: model.id,
            size: b.bytes.byteLength,
            created_at: now,
          })
          .onConflict((oc) => oc.column("sha256").doNothing())
          .execute();
        const files = plan.bundles.get(key)!.files;
        await recordTargets(
          trx,
          row.id,
          [],
          files.map((f) => ({ ...f, bundleSha256: b.sha256, projectId: project.id })),
        );
      }
      await trx.insertInto("deployments").values(row).execute();
      await recordTargets(trx, row.id, targets, []);
      for (const id of deviceIds) {
        const cur = await trx
          .selectFrom("devices")
          .select(["desired", "desired_rev", "created_at"])
          .where("id", "=", id)
          .executeTakeFirstOrThrow();
        const stored = cur.desired ? (JSON.parse(cur.desired) as StoredDesired) : emptyDesired(cur.created_at);
        const next = shadow
          ? withShadow(stored, pipeline, bundleOf(id).ref, row.id, now)
          : withPipeline(stored, pipeline, bundleOf(id).ref, row.id, now);
        await trx
          .updateTable("devices")
          .set({ desired: JSON.stringify(next), desired_rev: cur.desired_rev + 1 })
          .where("id", "=", id)
          .execute();
      }
    });
    // deploying an older bundle is the explicit act that lets these devices go back to it; a
    // shadow never replaces what a device runs, so it needs no grant
    for (const b of shadow ? [] : stored.values()) {
      const ids = deviceIds.filter((id) => bundleOf(id).sha256 === b.sha256);
      await this.#signing.grantDowngrades({
        projectId: project.id,
        pipeline,
        bundleSha256: b.sha256,
        sequence: b.sequence,
        deviceIds: ids,
      });
    }
    if (opts.publish) await this.#desired.sync(deviceIds);
    return {
      ...fromRow(row),
      targets: targets.map(({ deviceId, bundleSha256, target }) => ({ deviceId, bundleSha256, target })),
    };
  }

  async list(query: { projectId?: string } = {}): Promise<Deployment[]> {
    let q = this.#db.selectFrom("deployments").selectAll().orderBy("created_at", "desc");
    if (query.projectId) q = q.where("project_id", "=", query.projectId);
    return (await q.execute()).map(fromRow);
  }

  /**
   * The desired state a device enrolled now inherits from tag deployments of its project:
   * per pipeline, the latest deployment naming one of its tags. Records the device on them.
   */
  async inheritFor(
    trx: Kysely<HubDatabase>,
    projectId: string,
    deviceId: string,
    tags: readonly string[],
    now: string,
    /** the architecture it enrolls with; read from the device's row when not given */
    enrolledArch?: string | null,
  ): Promise<{ desired: StoredDesired; rev: number } | null> {
    if (tags.length === 0) return null;
    const rows = await trx
      .selectFrom("deployments")
      .selectAll()
      .where("project_id", "=", projectId)
      .orderBy("created_at", "asc")
      .execute();
    const latest = new Map<string, Selectable<DeploymentsTable>>();
    for (const r of rows) {
      // a shadow is a trial on the devices it named, never inherited
      if (r.role === "shadow") continue;
      const target = JSON.parse(r.target) as { tags: string[] };
      if (target.tags.some((t) => tags.includes(t))) latest.set(r.pipeline, r);
    }
    if (latest.size === 0) return null;
    let desired = emptyDesired(now);
    let arch: string | undefined;
    for (const dep of [...latest.values()].sort((a, b) => a.created_at.localeCompare(b.created_at))) {
      const model = await this.#models.get(dep.model_version_id, trx);
      // the deployment's bundle for the device's architecture, when it built one
      arch ??= await this.#archOf(trx, deviceId, enrolledArch);
      const own = await inheritedTarget(trx, dep, deviceId, arch);
      const ref: StoredBundleRef = {
        sha256: own?.bundleSha256 ?? dep.bundle_sha256,
        modelVersionId: model.id,
        modelSha256: own?.modelSha256 ?? model.sha256,
        size: own?.modelSize ?? model.size,
      };
      desired = withPipeline(desired, dep.pipeline, ref, dep.id, now);
      const ids = JSON.parse(dep.device_ids) as string[];
      if (!ids.includes(deviceId)) {
        await trx
          .updateTable("deployments")
          .set({ device_ids: JSON.stringify([...ids, deviceId]) })
          .where("id", "=", dep.id)
          .execute();
      }
    }
    return { desired, rev: 1 };
  }

  async #archOf(trx: Kysely<HubDatabase>, deviceId: string, enrolled: string | null | undefined): Promise<string> {
    if (enrolled !== undefined) return deviceArch({ arch: enrolled, reported: null });
    const row = await trx
      .selectFrom("devices")
      .select(["arch", "reported"])
      .where("id", "=", deviceId)
      .executeTakeFirst();
    return row ? deviceArch(row) : "any";
  }
}

function fromRow(row: Selectable<DeploymentsTable> | DeploymentsTable): Deployment {
  return {
    id: row.id,
    projectId: row.project_id,
    modelVersionId: row.model_version_id,
    bundleSha256: row.bundle_sha256,
    pipeline: row.pipeline,
    target: JSON.parse(row.target) as Deployment["target"],
    deviceIds: JSON.parse(row.device_ids) as string[],
    createdAt: row.created_at,
    precision: (row.precision ?? "auto") as NonNullable<Deployment["precision"]>,
    ...(row.role === "shadow" ? { shadow: true } : {}),
  };
}
