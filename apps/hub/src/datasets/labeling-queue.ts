import type { LabelContent, LabelingQueue } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import type { ProjectRecord } from "../projects/project-service.js";
import { classesOf } from "./label-content.js";
import { currentRevisions, type SampleRow, toSample } from "./sample-rows.js";

const GROUPS = {
  positives: "verdicts that confirmed a defect (or relabeled to one): check and refine the label",
  false_positives: "verdicts that found nothing wrong: the frames the model got wrong, check they are clean",
  uncertain: "frames devices captured for learning (low confidence, disagreement): label them",
  unlabeled: "imported or uploaded images without a label",
} as const;

/**
 * What people should label next, in order: incidents' verdicts (positives, then false
 * positives), frames devices were unsure about, then other unlabeled samples. Reviewed
 * samples leave the queue. Oldest first within a group.
 */
export async function labelingQueue(
  db: Kysely<HubDatabase>,
  project: ProjectRecord,
  limit: number,
): Promise<LabelingQueue> {
  // verdict samples are split by their label's content, so they are read whole; they grow
  // with incidents people answered, not with imports
  const verdicts = await db
    .selectFrom("samples")
    .selectAll()
    .where("project_id", "=", project.id)
    .where("source", "=", "verdict")
    .where("label_status", "!=", "reviewed")
    .orderBy("created_at", "asc")
    .orderBy("id", "asc")
    .execute();
  const revs = await currentRevisions(db, verdicts);
  const positives: SampleRow[] = [];
  const falsePositives: SampleRow[] = [];
  for (const s of verdicts) {
    const content = revs.get(s.id)?.content;
    const classes = content ? classesOf(JSON.parse(content) as LabelContent) : [];
    (classes.some((c) => !project.okLabels.includes(c)) ? positives : falsePositives).push(s);
  }
  const page = async (sources: string[], status: string | null) => {
    let q = db.selectFrom("samples").where("project_id", "=", project.id).where("source", "in", sources);
    q = status ? q.where("label_status", "=", status) : q.where("label_status", "!=", "reviewed");
    const count = await q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirst();
    const rows = await q.selectAll().orderBy("created_at", "asc").orderBy("id", "asc").limit(limit).execute();
    return { count: Number(count?.n ?? 0), rows };
  };
  const uncertain = await page(["capture"], null);
  const unlabeled = await page(["import", "upload", "synthetic"], "unlabeled");
  const all = [...positives.slice(0, limit), ...falsePositives.slice(0, limit), ...uncertain.rows, ...unlabeled.rows];
  const allRevs = await currentRevisions(db, all);
  const view = (rows: SampleRow[]) => rows.map((r) => toSample(r, allRevs.get(r.id) ?? null));
  const groups: LabelingQueue["groups"] = [
    {
      key: "positives",
      description: GROUPS.positives,
      count: positives.length,
      items: view(positives.slice(0, limit)),
    },
    {
      key: "false_positives",
      description: GROUPS.false_positives,
      count: falsePositives.length,
      items: view(falsePositives.slice(0, limit)),
    },
    { key: "uncertain", description: GROUPS.uncertain, count: uncertain.count, items: view(uncertain.rows) },
    { key: "unlabeled", description: GROUPS.unlabeled, count: unlabeled.count, items: view(unlabeled.rows) },
  ];
  return { projectId: project.id, total: groups.reduce((n, g) => n + g.count, 0), groups };
}
