import { createHash } from "node:crypto";
import { KensaError, type SiteModelApproval, type SiteProject } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import type { ProjectService } from "../projects/project-service.js";
import type { ModelService } from "../registry/model-service.js";
import type { RegistryService } from "../registry/registry-service.js";
import type { CentralClient } from "./central-client.js";
import type { CursorStore } from "./cursor-store.js";

export interface SiteDownstreamDeps {
  db: Kysely<HubDatabase>;
  central: CentralClient;
  cursors: CursorStore;
  projects: ProjectService;
  models: ModelService;
  registry: RegistryService;
  log: FastifyBaseLogger;
}

/**
 * A site hub's downstream: the model versions central approved for the site's projects, in
 * approval order. Each is downloaded once (sha256 checked), registered in the site's registry
 * (`source: central:<id>`, remembered in `federation_models`) and approved here by "central",
 * which deploys it to the project's auto-deploy target like any approval: the site's devices
 * then fetch bundles from the site, and the WAN carries one copy of the model.
 */
export class SiteDownstream {
  #d: SiteDownstreamDeps;

  constructor(deps: SiteDownstreamDeps) {
    this.#d = deps;
  }

  /** Pulls until central has nothing newer; returns how many models were registered. */
  async pull(): Promise<number> {
    let registered = 0;
    for (;;) {
      const since = await this.#d.cursors.text("models");
      const page = await this.#d.central.models({ ...(since ? { since } : {}), limit: 20 });
      // only the latest approval of each project in a page matters: earlier ones would be
      // champions for a moment and deployed for nothing (and downloaded over the WAN)
      const latest = new Map<string, SiteModelApproval>();
      for (const a of page.items) latest.set(a.project.slug, a);
      for (const a of latest.values()) registered += await this.#apply(a);
      await this.#d.cursors.set("models", page.nextCursor);
      if (page.items.length < 20) return registered;
    }
  }

  /** registers (once) and approves (unless already champion) one central approval */
  async #apply(a: SiteModelApproval): Promise<number> {
    const { id: localId, registered } = await this.ensureModel(a.project, a.model);
    const model = await this.#d.models.get(localId);
    if (model.champion) return registered ? 1 : 0;
    const reply = await this.#d.registry.decide(localId, "approve", {
      by: "central",
      reason: `approved on central (approval ${a.approvalId}, model ${a.model.id})`,
    });
    if (reply.deploymentError) {
      // the approval stands, as for a person's; the site's target may simply match no device yet
      this.#d.log.warn(
        { model: localId, error: reply.deploymentError },
        "federation: deploying a central model failed",
      );
    }
    this.#d.log.info({ model: localId, central: a.model.id }, "federation: central model approved on this site");
    return registered ? 1 : 0;
  }

  /**
   * The site's model version holding central's `model`: the one registered before, else the
   * file downloaded (sha256 checked) and registered now (`source: central:<id>`), with its
   * project created from central's definition when the site lacks it.
   */
  async ensureModel(
    project: SiteProject,
    model: SiteModelApproval["model"],
  ): Promise<{ id: string; registered: boolean }> {
    const known = await this.#d.db
      .selectFrom("federation_models")
      .select("model_version_id")
      .where("central_model_id", "=", model.id)
      .executeTakeFirst();
    if (known) return { id: known.model_version_id, registered: false };
    const projectId = await this.#project(project);
    const bytes = await this.#d.central.modelFile(model.id);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (sha256 !== model.sha256) {
      throw new KensaError(
        "KENSA_ERR_FEDERATION_HASH_MISMATCH",
        `central's model ${model.id} arrived with sha256 ${sha256}, not ${model.sha256}`,
      );
    }
    const created = await this.#d.models.register({
      projectId,
      manifest: JSON.stringify(model.manifest),
      bytes,
      name: model.name,
      source: `central:${model.id}`,
      ...(model.lineage ? { lineage: model.lineage } : {}),
      // the mapping commits with the version: a crash leaves both or neither
      onInsert: async (trx, version) => {
        await trx
          .insertInto("federation_models")
          .values({ central_model_id: model.id, model_version_id: version.id, created_at: isoNow() })
          .execute();
      },
    });
    return { id: created.id, registered: true };
  }

  /** the site's project of this slug, created from central's definition when missing */
  async #project(p: SiteProject): Promise<string> {
    const row = await this.#d.db.selectFrom("projects").select("id").where("slug", "=", p.slug).executeTakeFirst();
    if (row) return row.id;
    const { slug, name, task, labels, okLabels, rule } = p;
    return (await this.#d.projects.create({ slug, name, task, labels, okLabels, rule })).id;
  }
}
