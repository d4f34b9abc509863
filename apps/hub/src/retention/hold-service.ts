import { randomBytes } from "node:crypto";
import { type CreateLegalHold, KensaError, type LegalHold } from "@kensa/contracts";
import type { Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { ProjectService } from "../projects/project-service.js";
import type { LegalHoldsTable, RetentionDb } from "./retention-tables.js";

/** What the holds in force on one project cover. */
export interface ActiveHolds {
  /** the whole project is held: retention deletes nothing of it */
  project: boolean;
  devices: ReadonlySet<string>;
  incidents: ReadonlySet<string>;
}

/**
 * Legal holds: while one is in force on a project, a device or an incident, retention deletes
 * nothing it covers (a device's events, frames, clips and captures; an incident's event, frame
 * and clip). Holds are released, never deleted, so the record of what was held stays.
 */
export class LegalHoldService {
  #db: RetentionDb;
  #projects: ProjectService;

  constructor(db: RetentionDb, projects: ProjectService) {
    this.#db = db;
    this.#projects = projects;
  }

  async list(projectId: string): Promise<LegalHold[]> {
    const project = await this.#projects.get(projectId);
    const rows = await this.#db
      .selectFrom("legal_holds")
      .selectAll()
      .where("project_id", "=", project.id)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .execute();
    return rows.map(toHold);
  }

  /** throws KENSA_ERR_LEGAL_HOLD_TARGET_INVALID when the device or incident is not the project's */
  async create(projectId: string, input: CreateLegalHold, by: string): Promise<LegalHold> {
    const project = await this.#projects.get(projectId);
    let targetId = project.id;
    if (input.scope === "project") {
      if (input.targetId !== undefined && input.targetId !== project.id)
        throw invalid(`a project hold names no target, or the project itself (${project.id})`);
    } else {
      if (!input.targetId) throw invalid(`a ${input.scope} hold needs targetId`);
      const table = input.scope === "device" ? "devices" : "incidents";
      const row = await this.#db
        .selectFrom(table)
        .select("project_id")
        .where("id", "=", input.targetId)
        .executeTakeFirst();
      if (!row || row.project_id !== project.id)
        throw invalid(`${input.scope} ${input.targetId} is not in project ${project.slug}`);
      targetId = input.targetId;
    }
    const row: LegalHoldsTable = {
      id: `hld_${randomBytes(12).toString("base64url")}`,
      project_id: project.id,
      scope: input.scope,
      target_id: targetId,
      reason: input.reason,
      created_by: by,
      created_at: isoNow(),
      released_at: null,
      released_by: null,
    };
    await this.#db.insertInto("legal_holds").values(row).execute();
    return toHold(row);
  }

  /** throws KENSA_ERR_LEGAL_HOLD_NOT_FOUND; releasing a released hold changes nothing */
  async release(id: string, by: string): Promise<LegalHold> {
    await this.#db
      .updateTable("legal_holds")
      .set({ released_at: isoNow(), released_by: by })
      .where("id", "=", id)
      .where("released_at", "is", null)
      .execute();
    const row = await this.#db.selectFrom("legal_holds").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_LEGAL_HOLD_NOT_FOUND", `no legal hold ${id}`);
    return toHold(row);
  }

  async active(projectId: string): Promise<ActiveHolds> {
    const rows = await this.#db
      .selectFrom("legal_holds")
      .select(["scope", "target_id"])
      .where("project_id", "=", projectId)
      .where("released_at", "is", null)
      .execute();
    return {
      project: rows.some((r) => r.scope === "project"),
      devices: new Set(rows.filter((r) => r.scope === "device").map((r) => r.target_id)),
      incidents: new Set(rows.filter((r) => r.scope === "incident").map((r) => r.target_id)),
    };
  }
}

function invalid(message: string): KensaError {
  return new KensaError("KENSA_ERR_LEGAL_HOLD_TARGET_INVALID", message);
}

function toHold(r: Selectable<LegalHoldsTable>): LegalHold {
  return {
    id: r.id,
    projectId: r.project_id,
    scope: r.scope as LegalHold["scope"],
    targetId: r.target_id,
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: r.created_at,
    releasedAt: r.released_at,
    releasedBy: r.released_by,
  };
}
