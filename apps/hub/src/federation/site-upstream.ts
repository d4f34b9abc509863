import type { PushReply, SiteFleet, SiteIncident, SiteVerdict } from "@kensa/contracts";
import { type ErrorCode, errorCatalog, KensaError } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import type { CentralClient } from "./central-client.js";
import type { CursorStore } from "./cursor-store.js";
import { siteFieldSummary } from "./site-field.js";
import { type SyncCursor, settledBefore } from "./sync-cursor.js";

export interface UpstreamOptions {
  batch: number;
  settleMs: number;
  frames: boolean;
  frameWaitMs: number;
  /** push labelled samples (see SiteSamples) */
  samples: boolean;
}

/** What one push moved, for the status and the logs. */
export interface UpstreamCounts {
  incidents: number;
  verdicts: number;
  frames: number;
}

/**
 * A site hub's upstream: its own incidents, then the verdicts on them, each read in
 * (created_at, id) order behind a cursor kept in its database, pushed in batches. The cursor
 * moves only past items central stored (or already had), and stops at the first it refused:
 * nothing is skipped, and what follows is sent again next time (central stores it once).
 */
export class SiteUpstream {
  #db: Kysely<HubDatabase>;
  #blobs: BlobStore;
  #central: CentralClient;
  #cursors: CursorStore;
  #o: UpstreamOptions;

  constructor(deps: {
    db: Kysely<HubDatabase>;
    blobs: BlobStore;
    central: CentralClient;
    cursors: CursorStore;
    options: UpstreamOptions;
  }) {
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#central = deps.central;
    this.#cursors = deps.cursors;
    this.#o = deps.options;
  }

  /** Pushes until both streams are drained; throws the first refusal (after moving past what was stored). */
  async push(counts: UpstreamCounts): Promise<void> {
    // incidents first: a verdict is refused until central has its incident
    while (await this.#incidentBatch(counts)) {}
    while (await this.#verdictBatch(counts)) {}
  }

  async fleet(): Promise<void> {
    await this.#central.pushFleet(await this.#fleetSummary());
  }

  /** the field figures per project and model version; central keeps the latest */
  async field(): Promise<void> {
    await this.#central.pushField(await siteFieldSummary(this.#db));
  }

  async #incidentBatch(counts: UpstreamCounts): Promise<boolean> {
    const cursor = await this.#cursors.get("incidents");
    const rows = await this.#db
      .selectFrom("incidents as i")
      .innerJoin("projects as p", "p.id", "i.project_id")
      .leftJoin("federation_models as fm", "fm.model_version_id", "i.model_version_id")
      .selectAll("i")
      .leftJoin("events as e", "e.id", "i.event_id")
      .select(["p.slug", "fm.central_model_id", "e.media_expected"])
      // a hub that is central for others pushes only its own incidents further up
      .where("i.site_id", "is", null)
      .where("i.created_at", "<", settledBefore(this.#o.settleMs))
      .where((eb) => after(eb, "i", cursor))
      .orderBy("i.created_at")
      .orderBy("i.id")
      .limit(this.#o.batch)
      .execute();
    if (this.#o.frames) {
      // an incident whose frame is on its way waits for it (in order: so does what follows)
      const waitFrom = settledBefore(this.#o.frameWaitMs);
      const waiting = rows.findIndex((r) => Number(r.media_expected) > 0 && !r.media_sha256 && r.created_at > waitFrom);
      if (waiting !== -1) rows.splice(waiting);
    }
    if (rows.length === 0) return false;
    const items: SiteIncident[] = [];
    for (const r of rows) {
      items.push({
        id: r.id,
        projectSlug: r.slug,
        deviceId: r.device_id,
        eventId: r.event_id,
        status: r.status as SiteIncident["status"],
        label: r.label,
        score: Number(r.score),
        rule: r.rule,
        modelVersionId: r.central_model_id ?? r.model_version_id,
        bundleSha256: r.bundle_sha256,
        frameMeta: JSON.parse(r.frame_meta) as SiteIncident["frameMeta"],
        mediaSha256: this.#o.frames ? await this.#pushFrame(r.media_sha256, counts) : null,
        createdAt: r.created_at,
        acknowledgedBy: r.acknowledged_by,
        acknowledgedAt: r.acknowledged_at,
      });
    }
    const reply = await this.#central.pushIncidents({ items });
    counts.incidents += reply.ok;
    return this.#advance("incidents", rows, reply);
  }

  async #verdictBatch(counts: UpstreamCounts): Promise<boolean> {
    const cursor = await this.#cursors.get("verdicts");
    const rows = await this.#db
      .selectFrom("verdicts as v")
      .innerJoin("incidents as i", "i.id", "v.incident_id")
      .selectAll("v")
      .where("i.site_id", "is", null)
      .where("v.created_at", "<", settledBefore(this.#o.settleMs))
      .where((eb) => after(eb, "v", cursor))
      .orderBy("v.created_at")
      .orderBy("v.id")
      .limit(this.#o.batch)
      .execute();
    if (rows.length === 0) return false;
    const items: SiteVerdict[] = rows.map((r) => ({
      id: r.id,
      incidentId: r.incident_id,
      verdict: r.verdict as SiteVerdict["verdict"],
      labels: JSON.parse(r.labels) as string[],
      note: r.note,
      by: r.decided_by,
      createdAt: r.created_at,
    }));
    const reply = await this.#central.pushVerdicts({ items });
    counts.verdicts += reply.ok;
    return this.#advance("verdicts", rows, reply);
  }

  #advance(stream: string, rows: Array<{ id: string; created_at: string }>, reply: PushReply): Promise<boolean> {
    return advanceCursor(this.#cursors, stream, rows, reply, this.#o.batch);
  }

  /** uploads a frame central lacks; null when the site no longer has it (retention) */
  async #pushFrame(sha256: string | null, counts: UpstreamCounts): Promise<string | null> {
    if (!sha256) return null;
    const bytes = await this.#blobs.get(sha256);
    if (!bytes) return null;
    await this.#central.pushFrame(sha256, bytes);
    counts.frames++;
    return sha256;
  }

  async #fleetSummary(): Promise<SiteFleet> {
    const rows = await this.#db
      .selectFrom("devices as d")
      .innerJoin("projects as p", "p.id", "d.project_id")
      .select(["p.slug", "d.presence", "d.reported"])
      .where("d.revoked_at", "is", null)
      .where("d.deleted_at", "is", null)
      .execute();
    const central = new Map(
      (await this.#db.selectFrom("federation_models").selectAll().execute()).map((r) => [
        r.model_version_id,
        r.central_model_id,
      ]),
    );
    const bySlug = new Map<string, SiteFleet["projects"][number]>();
    for (const r of rows) {
      const p = bySlug.get(r.slug) ?? { slug: r.slug, devicesTotal: 0, devicesOnline: 0, models: [] };
      bySlug.set(r.slug, p);
      p.devicesTotal++;
      if (r.presence === "online") p.devicesOnline++;
      const reported = r.reported
        ? (JSON.parse(r.reported) as { pipelines?: Array<{ bundle?: { modelVersionId: string } | null }> })
        : null;
      for (const pl of reported?.pipelines ?? []) {
        if (!pl.bundle) continue;
        const id = central.get(pl.bundle.modelVersionId) ?? pl.bundle.modelVersionId;
        const m = p.models.find((x) => x.modelVersionId === id);
        if (m) m.devices++;
        else p.models.push({ modelVersionId: id, devices: 1 });
      }
    }
    return { at: new Date().toISOString(), projects: [...bySlug.values()] };
  }
}

/**
 * Moves a stream's cursor to the last row before the first refusal (rows central stored or
 * already had); throws that refusal. True when a full batch went through (read the next).
 */
export async function advanceCursor(
  cursors: CursorStore,
  stream: string,
  rows: Array<{ id: string; created_at: string }>,
  reply: PushReply,
  batch: number,
): Promise<boolean> {
  const refused = new Set(reply.failed.map((f) => f.item));
  const stop = rows.findIndex((r) => refused.has(r.id));
  const passed = stop === -1 ? rows : rows.slice(0, stop);
  const last = passed.at(-1);
  if (last) await cursors.set(stream, { at: last.created_at, id: last.id });
  if (stop !== -1) {
    const f = reply.failed.find((x) => x.item === rows[stop]!.id)!;
    throw new KensaError(
      f.code in errorCatalog ? (f.code as ErrorCode) : "KENSA_ERR_INTERNAL",
      `central refused ${stream} item ${f.item}: ${f.message}`,
    );
  }
  return rows.length === batch;
}

/** rows after the cursor in (created_at, id) order */
// biome-ignore lint/suspicious/noExplicitAny: Kysely's expression builder differs per joined table
export function after(eb: any, table: string, cursor: SyncCursor) {
  return eb.or([
    eb(`${table}.created_at`, ">", cursor.at),
    eb.and([eb(`${table}.created_at`, "=", cursor.at), eb(`${table}.id`, ">", cursor.id)]),
  ]);
}
