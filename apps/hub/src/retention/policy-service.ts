import {
  type EffectiveLimit,
  RETENTION_KINDS,
  type RetentionKind,
  type RetentionLimit,
  type RetentionOverride,
  type RetentionPolicy,
} from "@kensa/contracts";
import { isoNow } from "../clock.js";
import type { RetentionConfig } from "../config/retention-config.js";
import type { ProjectService } from "../projects/project-service.js";
import type { RetentionDb } from "./retention-tables.js";

/** The limits in force for one project, by kind. */
export type EffectiveLimits = Record<RetentionKind, RetentionLimit>;

/**
 * Each project's retention settings: what the project set for itself over the hub's defaults
 * (`retention.defaults`). A key the project leaves out follows the default; a null lifts the
 * limit for that project.
 */
export class RetentionPolicyService {
  #db: RetentionDb;
  #projects: ProjectService;
  #config: RetentionConfig;

  constructor(db: RetentionDb, projects: ProjectService, config: RetentionConfig) {
    this.#db = db;
    this.#projects = projects;
    this.#config = config;
  }

  /** throws KENSA_ERR_PROJECT_NOT_FOUND */
  async get(projectId: string): Promise<RetentionPolicy> {
    const project = await this.#projects.get(projectId);
    const row = await this.#db
      .selectFrom("retention_policies")
      .selectAll()
      .where("project_id", "=", project.id)
      .executeTakeFirst();
    const override = row ? (JSON.parse(row.policy) as RetentionOverride) : {};
    const holds = await this.#db
      .selectFrom("legal_holds")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("project_id", "=", project.id)
      .where("released_at", "is", null)
      .executeTakeFirst();
    return {
      projectId: project.id,
      enabled: this.#config.enabled,
      everyMinutes: this.#config.everyMinutes,
      override,
      effective: effectiveOf(override, this.#config.defaults),
      activeHolds: Number(holds?.n ?? 0),
      updatedAt: row?.updated_at ?? null,
      updatedBy: row?.updated_by ?? null,
    };
  }

  /** Replaces the project's own settings; returns them as `get` does. */
  async set(projectId: string, override: RetentionOverride, by: string): Promise<RetentionPolicy> {
    const project = await this.#projects.get(projectId);
    const row = { project_id: project.id, policy: JSON.stringify(override), updated_by: by, updated_at: isoNow() };
    await this.#db
      .insertInto("retention_policies")
      .values(row)
      .onConflict((oc) =>
        oc.column("project_id").doUpdateSet({ policy: row.policy, updated_by: by, updated_at: row.updated_at }),
      )
      .execute();
    return this.get(project.id);
  }

  /** Every project with the limits in force for it. */
  async all(): Promise<Array<{ projectId: string; limits: EffectiveLimits }>> {
    const projects = await this.#db.selectFrom("projects").select("id").orderBy("id").execute();
    const rows = await this.#db.selectFrom("retention_policies").selectAll().execute();
    const own = new Map(rows.map((r) => [r.project_id, JSON.parse(r.policy) as RetentionOverride]));
    return projects.map((p) => {
      const eff = effectiveOf(own.get(p.id) ?? {}, this.#config.defaults);
      const limits = Object.fromEntries(
        RETENTION_KINDS.map((k) => [k, { maxAgeDays: eff[k].maxAgeDays, maxBytes: eff[k].maxBytes }]),
      ) as EffectiveLimits;
      return { projectId: p.id, limits };
    });
  }
}

/** The project's setting where it has one, the hub's default elsewhere. */
export function effectiveOf(
  override: RetentionOverride,
  defaults: RetentionConfig["defaults"],
): Record<RetentionKind, EffectiveLimit> {
  const out = {} as Record<RetentionKind, EffectiveLimit>;
  for (const kind of RETENTION_KINDS) {
    const own = override[kind] ?? {};
    const def = defaults[kind];
    out[kind] = {
      maxAgeDays: own.maxAgeDays !== undefined ? own.maxAgeDays : def.maxAgeDays,
      maxBytes: own.maxBytes !== undefined ? own.maxBytes : def.maxBytes,
      from: {
        maxAgeDays: own.maxAgeDays !== undefined ? "project" : "default",
        maxBytes: own.maxBytes !== undefined ? "project" : "default",
      },
    };
  }
  return out;
}
