import { headlineOf, type InferenceResult, type LabelContent, type VerdictKind } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** Which archived frames a backtest replays. */
export interface FrameWindow {
  projectId: string;
  /** ISO, inclusive */
  since: string;
  /** ISO, exclusive */
  until: string;
  limit: number;
  deviceIds: readonly string[] | null;
  captures: boolean;
}

/** What the champion decided on a frame when it was taken. */
export interface RecordedDecision {
  modelVersionId: string;
  incident: boolean;
  label: string | null;
  score: number | null;
  rule: string | null;
}

/** The person's word on a frame. */
export interface FrameTruth {
  source: VerdictKind | "label";
  finding: boolean;
}

/** One archived frame, with what was decided and said about it. */
export interface ArchivedFrame {
  frameId: string;
  kind: "incident" | "event" | "capture";
  deviceId: string | null;
  /** rules keep state per source: the device's camera, or its captures */
  sourceKey: string;
  /** ISO capture time */
  ts: string;
  incidentId: string | null;
  /** null: the frame never arrived */
  mediaSha256: string | null;
  champion: RecordedDecision | null;
  truth: FrameTruth | null;
}

/** SQL parameters per IN list: SQLite allows 32,766, PostgreSQL 65,535; stay well under both */
const CHUNK = 500;

/**
 * The most recent `limit` archived frames of the window, oldest first: events that carry a
 * frame (or raised an incident, whose frame may still be missing) and, when asked, the frames
 * devices captured for learning. Also how many the window holds, so the report can say what
 * the limit left out.
 */
export async function archivedFrames(
  db: Kysely<HubDatabase>,
  w: FrameWindow,
  okLabels: readonly string[],
): Promise<{ frames: ArchivedFrame[]; inWindow: number }> {
  const events = () => {
    let q = db
      .selectFrom("events as e")
      .leftJoin("incidents as i", "i.event_id", "e.id")
      .where("e.project_id", "=", w.projectId)
      .where("e.ts", ">=", w.since)
      .where("e.ts", "<", w.until)
      .where((eb) =>
        eb.or([eb("e.media_sha256", "is not", null), eb("e.media_expected", "=", 1), eb("i.id", "is not", null)]),
      );
    if (w.deviceIds) q = q.where("e.device_id", "in", [...w.deviceIds]);
    return q;
  };
  const captures = () => {
    let q = db
      .selectFrom("samples as s")
      .where("s.project_id", "=", w.projectId)
      .where("s.source", "=", "capture")
      .where("s.captured_at", ">=", w.since)
      .where("s.captured_at", "<", w.until);
    if (w.deviceIds) q = q.where("s.device_id", "in", [...w.deviceIds]);
    return q;
  };

  const eventCount = await events()
    .select((eb) => eb.fn.countAll<number | string>().as("n"))
    .executeTakeFirstOrThrow();
  const eventRows = await events()
    .select([
      "e.id",
      "e.device_id",
      "e.source_id",
      "e.ts",
      "e.model_version_id",
      "e.result",
      "e.media_sha256",
      "i.id as incident_id",
      "i.label as incident_label",
      "i.score as incident_score",
      "i.rule as incident_rule",
      "i.media_sha256 as incident_media",
    ])
    .orderBy("e.ts", "desc")
    .orderBy("e.id", "desc")
    .limit(w.limit)
    .execute();
  let captureCount = 0;
  let captureRows: Array<{
    id: string;
    device_id: string | null;
    captured_at: string | null;
    image_sha256: string | null;
    label_status: string;
    content: string | null;
  }> = [];
  if (w.captures) {
    captureCount = Number(
      (
        await captures()
          .select((eb) => eb.fn.countAll<number | string>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
    captureRows = await captures()
      .leftJoin("label_revisions as r", "r.id", "s.current_revision_id")
      .select(["s.id", "s.device_id", "s.captured_at", "s.image_sha256", "s.label_status", "r.content"])
      .orderBy("s.captured_at", "desc")
      .orderBy("s.id", "desc")
      .limit(w.limit)
      .execute();
  }

  const verdicts = await latestVerdicts(
    db,
    eventRows.flatMap((r) => (r.incident_id ? [r.incident_id] : [])),
  );
  const frames: ArchivedFrame[] = [];
  for (const r of eventRows) {
    const head = headlineOf(JSON.parse(r.result) as InferenceResult);
    const v = r.incident_id ? verdicts.get(r.incident_id) : undefined;
    frames.push({
      frameId: r.id,
      kind: r.incident_id ? "incident" : "event",
      deviceId: r.device_id,
      sourceKey: `${r.device_id}\u0000${r.source_id}`,
      ts: r.ts,
      incidentId: r.incident_id ?? null,
      mediaSha256: r.media_sha256 ?? r.incident_media ?? null,
      champion: {
        modelVersionId: r.model_version_id,
        incident: r.incident_id !== null,
        label: r.incident_label ?? head?.label ?? null,
        score: r.incident_score !== null ? Number(r.incident_score) : (head?.score ?? null),
        rule: r.incident_rule ?? null,
      },
      truth: v ? verdictTruth(v, okLabels) : null,
    });
  }
  for (const r of captureRows) {
    frames.push({
      frameId: r.id,
      kind: "capture",
      deviceId: r.device_id,
      sourceKey: `${r.device_id ?? ""}\u0000capture`,
      ts: r.captured_at ?? "",
      incidentId: null,
      mediaSha256: r.image_sha256,
      champion: null,
      truth:
        r.label_status !== "unlabeled" && r.content
          ? labelTruth(JSON.parse(r.content) as LabelContent, okLabels)
          : null,
    });
  }
  // the most recent `limit` of both kinds, then in capture order (rules with state see time forward)
  frames.sort((a, b) => (a.ts === b.ts ? b.frameId.localeCompare(a.frameId) : a.ts < b.ts ? 1 : -1));
  const chosen = frames.slice(0, w.limit).reverse();
  return { frames: chosen, inWindow: Number(eventCount.n) + captureCount };
}

/** The latest verdict of each incident: a later verdict overrides an earlier one. */
async function latestVerdicts(
  db: Kysely<HubDatabase>,
  incidentIds: readonly string[],
): Promise<Map<string, { verdict: string; labels: string[] }>> {
  const out = new Map<string, { verdict: string; labels: string[] }>();
  for (let k = 0; k < incidentIds.length; k += CHUNK) {
    const rows = await db
      .selectFrom("verdicts")
      .select(["incident_id", "verdict", "labels", "created_at", "id"])
      .where("incident_id", "in", incidentIds.slice(k, k + CHUNK))
      .orderBy("created_at", "asc")
      .orderBy("id", "asc")
      .execute();
    for (const r of rows) out.set(r.incident_id, { verdict: r.verdict, labels: JSON.parse(r.labels) as string[] });
  }
  return out;
}

/** confirmed: a finding; false alarm: none; relabel: a finding when a new label is not OK. */
export function verdictTruth(
  v: { verdict: string; labels: readonly string[] },
  okLabels: readonly string[],
): FrameTruth {
  if (v.verdict === "confirmed") return { source: "confirmed", finding: true };
  if (v.verdict === "false_alarm") return { source: "false_alarm", finding: false };
  return { source: "relabel", finding: v.labels.some((l) => !okLabels.includes(l)) };
}

/** A labelled capture shows a finding when a class, an object or the anomaly flag says so. */
export function labelTruth(content: LabelContent, okLabels: readonly string[]): FrameTruth {
  const finding =
    content.anomaly === true ||
    content.classes.some((c) => !okLabels.includes(c)) ||
    content.objects.some((o) => !okLabels.includes(o.label));
  return { source: "label", finding };
}
