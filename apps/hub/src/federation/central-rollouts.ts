import {
  type CreateSiteRollout,
  KensaError,
  type ModelLineage,
  type ModelManifest,
  type PushReply,
  type SiteRollout,
  type SiteRolloutCommand,
  type SiteRolloutOrder,
  type SiteRolloutOrdersReply,
  type SiteRolloutReport,
  type SiteRolloutState,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { SitesTable } from "../db/schema/federation.js";
import type { SiteRolloutsTable } from "../db/schema/site-rollouts.js";
import type { HubDatabase } from "../db/schema.js";
import { newId } from "../ids.js";
import { CentralRolloutCommands } from "./central-rollout-commands.js";
import { siteProjects } from "./site-registry.js";
import { storePushed } from "./store-pushed.js";
import { decodeSyncCursor, encodeSyncCursor, settledBefore } from "./sync-cursor.js";

type SiteRow = Selectable<SitesTable>;
type Request = SiteRolloutOrder["rollout"];

/**
 * On a central hub: staged rollouts an operator asks a site to run (docs/rollouts.md, "Across
 * sites"). Central stores the request and serves it to the site after its cursor; the site
 * runs the rollout with its own gates and pushes its state back, which replaces the state kept
 * here only when it is newer (a report resent after a cut changes nothing). Pause, resume and
 * rollback travel to the site the same way (`commands`).
 */
export class CentralRollouts {
  #db: Kysely<HubDatabase>;
  /** ms a request must be old before a site is given it (see `federation.settleMs`) */
  #settleMs: number;
  /** pause, resume and rollback sent to the site rollouts */
  readonly commands: CentralRolloutCommands;

  constructor(db: Kysely<HubDatabase>, settleMs: number) {
    this.#db = db;
    this.#settleMs = settleMs;
    this.commands = new CentralRolloutCommands(db, settleMs);
  }

  /**
   * Throws KENSA_ERR_MODEL_NOT_FOUND, KENSA_ERR_MODEL_NOT_DEPLOYABLE (not approved on central),
   * KENSA_ERR_SITE_PROJECT_UNKNOWN (the model's project is not one the site serves).
   */
  async create(site: SiteRow, input: CreateSiteRollout, by: string): Promise<SiteRollout> {
    const model = await this.#db
      .selectFrom("model_versions as m")
      .innerJoin("projects as p", "p.id", "m.project_id")
      .select(["m.id", "m.name", "m.version", "m.stage", "m.project_id", "p.slug"])
      .where("m.id", "=", input.modelVersionId)
      .executeTakeFirst();
    if (!model) throw new KensaError("KENSA_ERR_MODEL_NOT_FOUND", `no model version "${input.modelVersionId}"`);
    if (model.stage !== "approved") {
      throw new KensaError(
        "KENSA_ERR_MODEL_NOT_DEPLOYABLE",
        `model ${model.name} v${model.version} is ${model.stage}: only versions approved on central roll out to a site`,
        { modelVersionId: model.id, stage: model.stage, siteId: site.id },
      );
    }
    if (!siteProjects(site).includes(model.slug)) {
      throw new KensaError(
        "KENSA_ERR_SITE_PROJECT_UNKNOWN",
        `site ${site.id} does not serve project "${model.slug}" (add it to the site's projects first)`,
        { siteId: site.id, project: model.slug },
      );
    }
    const request: Request = {
      pipeline: input.pipeline ?? "default",
      target: { deviceIds: [...(input.target?.deviceIds ?? [])], tags: [...(input.target?.tags ?? [])] },
      ...(input.strategy ? { strategy: input.strategy } : {}),
      ...(input.gates ? { gates: input.gates } : {}),
      precision: input.precision ?? "auto",
    };
    const row: SiteRolloutsTable = {
      id: newId("srl"),
      site_id: site.id,
      project_id: model.project_id,
      model_version_id: model.id,
      request: JSON.stringify(request),
      created_by: by,
      created_at: isoNow(),
      state: "requested",
      report: null,
      reported_at: null,
      received_at: null,
    };
    await this.#db.insertInto("site_rollouts").values(row).execute();
    return toSiteRollout(row, []);
  }

  /** the site's rollouts, newest first, each with the commands sent to it */
  async list(siteId: string): Promise<SiteRollout[]> {
    const commands = await this.commands.bySiteRollout(siteId);
    const rows = await this.#db
      .selectFrom("site_rollouts")
      .selectAll()
      .where("site_id", "=", siteId)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .execute();
    return rows.map((r) => toSiteRollout(r, commands.get(r.id) ?? []));
  }

  /**
   * Requests for the site after `since`, oldest first, with the model (so a site that lacks it
   * can register it). Requests younger than the settle time wait for the next call.
   */
  async orders(site: SiteRow, since: string | undefined, limit: number): Promise<SiteRolloutOrdersReply> {
    const cursor = decodeSyncCursor(since);
    const rows = await this.#db
      .selectFrom("site_rollouts as s")
      .innerJoin("model_versions as m", "m.id", "s.model_version_id")
      .innerJoin("projects as p", "p.id", "m.project_id")
      .select(["s.id as order_id", "s.created_at as ordered_at", "s.created_by", "s.request"])
      .select(["m.id", "m.version", "m.name", "m.sha256", "m.size", "m.manifest", "m.lineage"])
      .select(["p.slug", "p.name as project_name", "p.task", "p.labels", "p.ok_labels", "p.rule"])
      .where("s.site_id", "=", site.id)
      .where("s.created_at", "<", settledBefore(this.#settleMs))
      .where((eb) =>
        eb.or([
          eb("s.created_at", ">", cursor.at),
          eb.and([eb("s.created_at", "=", cursor.at), eb("s.id", ">", cursor.id)]),
        ]),
      )
      .orderBy("s.created_at")
      .orderBy("s.id")
      .limit(limit)
      .execute();
    const items: SiteRolloutOrder[] = rows.map((r) => ({
      id: r.order_id,
      createdAt: r.ordered_at,
      createdBy: r.created_by,
      project: {
        slug: r.slug,
        name: r.project_name,
        task: r.task as SiteRolloutOrder["project"]["task"],
        labels: JSON.parse(r.labels) as string[],
        okLabels: JSON.parse(r.ok_labels) as string[],
        rule: JSON.parse(r.rule) as SiteRolloutOrder["project"]["rule"],
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
      rollout: JSON.parse(r.request) as Request,
    }));
    const last = rows.at(-1);
    return { items, nextCursor: encodeSyncCursor(last ? { at: last.ordered_at, id: last.order_id } : cursor) };
  }

  /** Keeps each report unless central holds a newer one for the same site rollout; per item, never thrown half-way. */
  async report(site: SiteRow, items: SiteRolloutReport[]): Promise<PushReply> {
    return storePushed(items, {
      store: async (item) => {
        const res = await this.#db
          .updateTable("site_rollouts")
          .set({
            state: item.state,
            report: JSON.stringify(item),
            reported_at: item.updatedAt,
            received_at: isoNow(),
          })
          .where("id", "=", item.id)
          .where("site_id", "=", site.id)
          .where((eb) => eb.or([eb("reported_at", "is", null), eb("reported_at", "<", item.updatedAt)]))
          .executeTakeFirst();
        return Number(res.numUpdatedRows) > 0;
      },
      knows: async (item) =>
        !!(await this.#db
          .selectFrom("site_rollouts")
          .select("id")
          .where("id", "=", item.id)
          .where("site_id", "=", site.id)
          .executeTakeFirst()),
      unknown: (item) => ({
        code: "KENSA_ERR_ROLLOUT_NOT_FOUND",
        message: `central asked site ${site.id} for no rollout ${item.id}`,
      }),
    });
  }
}

function toSiteRollout(r: Selectable<SiteRolloutsTable>, commands: SiteRolloutCommand[]): SiteRollout {
  const req = JSON.parse(r.request) as Request;
  const rep = r.report ? (JSON.parse(r.report) as SiteRolloutReport) : null;
  return {
    id: r.id,
    siteId: r.site_id,
    projectId: r.project_id,
    modelVersionId: r.model_version_id,
    pipeline: req.pipeline,
    target: req.target,
    ...(req.strategy ? { strategy: req.strategy } : {}),
    ...(req.gates ? { gates: req.gates } : {}),
    precision: req.precision,
    createdBy: r.created_by,
    createdAt: r.created_at,
    state: r.state as SiteRolloutState,
    siteRolloutId: rep?.rolloutId ?? null,
    currentWave: rep?.currentWave ?? 0,
    waves: rep?.waves ?? [],
    reason: rep?.reason ?? null,
    error: rep?.error ?? null,
    reportedAt: r.reported_at,
    receivedAt: r.received_at,
    commands,
  };
}
