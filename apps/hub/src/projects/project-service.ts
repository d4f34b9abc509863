import {
  type CreateProject,
  type IncidentRule,
  KensaError,
  type NotificationRouting,
  type Project,
  routingIssues,
  type Task,
  type UpdateProject,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase, ProjectsTable } from "../db/schema.js";
import { newId } from "../ids.js";
import type { SecretBox } from "../secrets/secret-box.js";

import { publicSms } from "./sms-secrets.js";
import { openRouting, sealRouting } from "./webhook-secrets.js";

/** A project as the hub sees it: webhook secrets included. Never sent as a reply. */
export interface ProjectRecord {
  id: string;
  slug: string;
  name: string;
  task: Task;
  labels: string[];
  okLabels: string[];
  rule: IncidentRule;
  notifications: NotificationRouting;
  createdAt: string;
}

const defaultRule = (): IncidentRule => ({ type: "threshold", labels: [], minScore: 0.5 });
const defaultRouting = (): NotificationRouting => ({ email: [], webhooks: [], cooldownSec: 300 });

export class ProjectService {
  #db: Kysely<HubDatabase>;
  /** seals webhook secrets in the database; without one they are stored as given */
  #secrets: SecretBox | null;

  constructor(db: Kysely<HubDatabase>, secrets: SecretBox | null = null) {
    this.#db = db;
    this.#secrets = secrets;
  }

  async create(input: CreateProject): Promise<ProjectRecord> {
    const rec: ProjectRecord = {
      id: newId("prj"),
      slug: input.slug,
      name: input.name,
      task: input.task,
      labels: [...input.labels],
      okLabels: [...(input.okLabels ?? [])],
      rule: input.rule ? { ...defaultRule(), ...input.rule } : defaultRule(),
      notifications: input.notifications ? { ...defaultRouting(), ...input.notifications } : defaultRouting(),
      createdAt: isoNow(),
    };
    checkLabels(rec);
    const existing = await this.#db.selectFrom("projects").select("id").where("slug", "=", rec.slug).executeTakeFirst();
    if (existing) throw new KensaError("KENSA_ERR_PROJECT_EXISTS", `a project with slug "${rec.slug}" already exists`);
    await this.#db.insertInto("projects").values(toRow(rec, this.#secrets)).execute();
    return rec;
  }

  async list(): Promise<ProjectRecord[]> {
    const rows = await this.#db.selectFrom("projects").selectAll().orderBy("created_at", "asc").execute();
    return rows.map((row) => fromRow(row, this.#secrets));
  }

  /** throws KENSA_ERR_PROJECT_NOT_FOUND */
  async get(id: string, db: Kysely<HubDatabase> = this.#db): Promise<ProjectRecord> {
    const row = await db.selectFrom("projects").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_PROJECT_NOT_FOUND", `no project with id "${id}"`);
    return fromRow(row, this.#secrets);
  }

  async update(id: string, patch: UpdateProject): Promise<ProjectRecord> {
    const cur = await this.get(id);
    const next: ProjectRecord = {
      ...cur,
      name: patch.name ?? cur.name,
      rule: patch.rule ? { ...defaultRule(), ...patch.rule } : cur.rule,
      notifications: patch.notifications ? { ...defaultRouting(), ...patch.notifications } : cur.notifications,
    };
    checkLabels(next);
    const row = toRow(next, this.#secrets);
    await this.#db
      .updateTable("projects")
      .set({ name: row.name, rule: row.rule, notifications: row.notifications })
      .where("id", "=", id)
      .execute();
    return next;
  }
}

/** The public shape: webhook secrets stripped. */
export function toProject(rec: ProjectRecord): Project {
  return {
    id: rec.id,
    slug: rec.slug,
    name: rec.name,
    task: rec.task,
    labels: rec.labels,
    okLabels: rec.okLabels,
    rule: rec.rule,
    notifications: {
      email: rec.notifications.email,
      webhooks: rec.notifications.webhooks.map((w) => ({ url: w.url })),
      cooldownSec: rec.notifications.cooldownSec,
      ...publicSms(rec.notifications),
      ...(rec.notifications.severity ? { severity: rec.notifications.severity } : {}),
      ...(rec.notifications.routes ? { routes: rec.notifications.routes } : {}),
    },
    createdAt: rec.createdAt,
  };
}

/** Labels a rule or OK list names must exist, or incidents would silently never fire. */
function checkLabels(rec: ProjectRecord): void {
  const known = new Set(rec.labels);
  const issues: Array<{ path: string; message: string }> = [];
  rec.okLabels.forEach((l, i) => {
    if (!known.has(l)) issues.push({ path: `/okLabels/${i}`, message: `"${l}" is not one of the project's labels` });
  });
  rec.rule.labels.forEach((l, i) => {
    if (!known.has(l)) issues.push({ path: `/rule/labels/${i}`, message: `"${l}" is not one of the project's labels` });
  });
  issues.push(...routingIssues(rec.notifications, rec.labels));
  if (issues.length > 0) {
    throw new KensaError("KENSA_ERR_VALIDATION", issues.map((i) => `${i.path}: ${i.message}`).join("; "), { issues });
  }
}

function toRow(rec: ProjectRecord, secrets: SecretBox | null): ProjectsTable {
  return {
    id: rec.id,
    slug: rec.slug,
    name: rec.name,
    task: rec.task,
    labels: JSON.stringify(rec.labels),
    ok_labels: JSON.stringify(rec.okLabels),
    rule: JSON.stringify(rec.rule),
    notifications: JSON.stringify(sealRouting(rec.notifications, secrets)),
    created_at: rec.createdAt,
  };
}

function fromRow(row: Selectable<ProjectsTable>, secrets: SecretBox | null): ProjectRecord {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    task: row.task as Task,
    labels: JSON.parse(row.labels) as string[],
    okLabels: JSON.parse(row.ok_labels) as string[],
    rule: JSON.parse(row.rule) as IncidentRule,
    notifications: openRouting(JSON.parse(row.notifications) as NotificationRouting, secrets),
    createdAt: row.created_at,
  };
}
