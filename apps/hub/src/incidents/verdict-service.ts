import { type CreateVerdict, type IncidentStatus, KensaError, type Verdict } from "@kensa/contracts";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase, VerdictsTable } from "../db/schema.js";
import { newId } from "../ids.js";
import type { ProjectService } from "../projects/project-service.js";
import { type IncidentService, toVerdict } from "./incident-service.js";
import type { VerdictLabels } from "./ports.js";

const statusOf: Record<CreateVerdict["verdict"], IncidentStatus> = {
  confirmed: "confirmed",
  false_alarm: "false_alarm",
  relabel: "relabeled",
};

/** People's decisions on incidents. Every verdict is kept; the latest sets the incident status. */
export class VerdictService {
  #db: Kysely<HubDatabase>;
  #incidents: IncidentService;
  #projects: ProjectService;
  #labels: VerdictLabels;

  /** `labels` is the loop's verdict → label step (datasets) */
  constructor(db: Kysely<HubDatabase>, incidents: IncidentService, projects: ProjectService, labels: VerdictLabels) {
    this.#db = db;
    this.#incidents = incidents;
    this.#projects = projects;
    this.#labels = labels;
  }

  /** `by` is who decided, as the route established it (a user's username, or what the admin token named). */
  async create(incidentId: string, input: CreateVerdict & { by: string }): Promise<Verdict> {
    const incident = await this.#incidents.get(incidentId);
    const project = await this.#projects.get(incident.projectId);
    if (input.verdict === "relabel" && (!input.labels || input.labels.length === 0)) {
      throw new KensaError("KENSA_ERR_VERDICT_LABELS_REQUIRED", "a relabel verdict needs `labels`: the correct labels");
    }
    const unknown = (input.labels ?? []).filter((l) => !project.labels.includes(l));
    if (unknown.length > 0) {
      throw new KensaError(
        "KENSA_ERR_VERDICT_UNKNOWN_LABEL",
        `label(s) ${unknown.map((l) => `"${l}"`).join(", ")} not in project ${project.slug}'s labels [${project.labels.join(", ")}]`,
        { unknown, labels: project.labels },
      );
    }
    // A confirmation without labels confirms what the model said; a false alarm means none of it.
    const labels = input.labels ?? (input.verdict === "confirmed" ? [incident.label] : []);
    const row: VerdictsTable = {
      id: newId("vrd"),
      incident_id: incident.id,
      verdict: input.verdict,
      labels: JSON.stringify(labels),
      note: input.note ?? null,
      decided_by: input.by,
      created_at: isoNow(),
    };
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto("verdicts").values(row).execute();
      await trx
        .updateTable("incidents")
        .set({ status: statusOf[input.verdict] })
        .where("id", "=", incident.id)
        .execute();
      await this.#labels.labelFromVerdict(trx, incident, toVerdict(row), project);
    });
    return toVerdict(row);
  }
}
