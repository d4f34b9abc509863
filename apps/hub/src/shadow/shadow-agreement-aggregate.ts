import {
  type AgreementByLabel,
  type AgreementRate,
  SHADOW_AGREEMENT_LIMITS,
  type ShadowAgreementReply,
  type ShadowPairAgreement,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** What a caller (the registry route, a rollout gate) asks of a challenger's agreement. */
export interface ShadowAgreementFilter {
  challengerModelVersionId: string;
  /** only these devices (all when absent; an empty list matches none) */
  deviceIds?: readonly string[];
  /** only counting sessions that started at or after this time (ISO-8601) */
  since?: string;
}

/** z of a two-sided 95% interval */
const Z95 = 1.959964;

/**
 * The Wilson score interval of `agree` successes in `frames` trials at 95%: unlike the normal
 * approximation it stays inside [0, 1] and is honest with few frames or a rate near 0 or 1,
 * which is where a gate decides (a challenger agreeing on 99 frames of 100).
 */
export function wilson(agree: number, frames: number, z = Z95): AgreementRate {
  if (frames <= 0) return { frames: 0, agree: 0, rate: null, interval: [0, 1] };
  const p = agree / frames;
  const z2 = z * z;
  const denom = 1 + z2 / frames;
  const center = (p + z2 / (2 * frames)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / frames + z2 / (4 * frames * frames))) / denom;
  return {
    frames,
    agree,
    rate: round(p),
    interval: [round(Math.max(0, center - half)), round(Math.min(1, center + half))],
  };
}

/**
 * A challenger's agreement with each champion it ran beside, summed over devices, pipelines and
 * counting sessions: frames and agreeing frames add up exactly, as do per-label counts; the mean
 * score delta and IoU are weighted by frames (by IoU frames); a p95 does not combine, so the
 * highest a device reported is given. Pairs come most frames first.
 */
export async function shadowAgreementFor(
  db: Kysely<HubDatabase>,
  filter: ShadowAgreementFilter,
): Promise<ShadowAgreementReply> {
  const reply: ShadowAgreementReply = { challengerModelVersionId: filter.challengerModelVersionId, pairs: [] };
  if (filter.deviceIds && filter.deviceIds.length === 0) return reply;
  let q = db
    .selectFrom("shadow_agreement")
    .selectAll()
    .where("challenger_model_version_id", "=", filter.challengerModelVersionId);
  if (filter.deviceIds) q = q.where("device_id", "in", [...filter.deviceIds]);
  if (filter.since) q = q.where("started_at", ">=", new Date(filter.since).toISOString());
  const rows = await q.execute();
  const byChampion = new Map<string, typeof rows>();
  for (const r of rows) {
    const list = byChampion.get(r.champion_model_version_id) ?? [];
    list.push(r);
    byChampion.set(r.champion_model_version_id, list);
  }
  for (const [champion, list] of byChampion) reply.pairs.push(pairOf(filter.challengerModelVersionId, champion, list));
  reply.pairs.sort((a, b) => b.overall.frames - a.overall.frames);
  return reply;
}

type Row = HubDatabase["shadow_agreement"];

function pairOf(challenger: string, champion: string, rows: readonly Row[]): ShadowPairAgreement {
  let frames = 0;
  let agree = 0;
  let captures = 0;
  let deltaSum = 0;
  let p95Max: number | null = null;
  let iouSum = 0;
  let iouN = 0;
  const labels = new Map<string, { frames: number; agree: number }>();
  const devices = new Set<string>();
  let since = rows[0]?.started_at ?? "";
  let last = rows[0]?.updated_at ?? "";
  for (const r of rows) {
    // bigint columns come back as strings from PostgreSQL
    const n = Number(r.frames);
    frames += n;
    agree += Number(r.agree);
    captures += Number(r.captures);
    deltaSum += Number(r.score_delta_mean) * n;
    p95Max = Math.max(p95Max ?? 0, Number(r.score_delta_p95));
    if (r.iou_mean !== null && r.iou_n !== null) {
      iouSum += Number(r.iou_mean) * Number(r.iou_n);
      iouN += Number(r.iou_n);
    }
    for (const [label, c] of Object.entries(JSON.parse(r.by_label) as AgreementByLabel)) {
      const sum = labels.get(label) ?? { frames: 0, agree: 0 };
      sum.frames += c.frames;
      sum.agree += c.agree;
      labels.set(label, sum);
    }
    devices.add(r.device_id);
    if (r.started_at < since) since = r.started_at;
    if (r.updated_at > last) last = r.updated_at;
  }
  const byLabel = [...labels]
    .sort((a, b) => b[1].frames - a[1].frames || (a[0] < b[0] ? -1 : 1))
    .slice(0, SHADOW_AGREEMENT_LIMITS.labels)
    .map(([label, c]) => ({ label, ...wilson(c.agree, c.frames) }));
  return {
    championModelVersionId: champion,
    challengerModelVersionId: challenger,
    devices: devices.size,
    deviceIds: [...devices].sort(),
    overall: wilson(agree, frames),
    byLabel,
    scoreDelta: { mean: frames > 0 ? round(deltaSum / frames) : null, p95Max },
    iou: iouN > 0 ? { mean: round(iouSum / iouN), n: iouN } : null,
    captures,
    since,
    lastReportedAt: last,
  };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
