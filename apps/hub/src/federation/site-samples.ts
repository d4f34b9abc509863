import type { LabelContent, PushReply, SiteSample } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubDatabase } from "../db/schema.js";
import type { CentralClient } from "./central-client.js";
import type { CursorStore } from "./cursor-store.js";
import { advanceCursor, after } from "./site-upstream.js";
import { settledBefore } from "./sync-cursor.js";

const STREAM = "samples";

export interface SiteSamplesOptions {
  batch: number;
  settleMs: number;
  /** ms a labelled sample whose image has not arrived (a verdict before its frame) waits for it */
  frameWaitMs: number;
}

/**
 * A site hub's labelled samples for central's datasets: label revisions read in (created_at, id)
 * order behind the `samples` cursor, each sent with its sample while it is the sample's current
 * one (a revision already replaced is passed over: its successor follows in the stream). A
 * relabel is a new revision, so the sample is sent again and central appends it as a revision of
 * the same sample. Samples central pushed down from a lower site are not sent further up.
 *
 * Images and masks travel on the frames route, and only for the samples central says it lacks
 * them for: the first push of a batch names what is missing, the bytes go up, the refused items
 * are sent again. A relabel carries no bytes.
 */
export class SiteSamples {
  #db: Kysely<HubDatabase>;
  #blobs: BlobStore;
  #central: CentralClient;
  #cursors: CursorStore;
  #o: SiteSamplesOptions;

  constructor(deps: {
    db: Kysely<HubDatabase>;
    blobs: BlobStore;
    central: CentralClient;
    cursors: CursorStore;
    options: SiteSamplesOptions;
  }) {
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#central = deps.central;
    this.#cursors = deps.cursors;
    this.#o = deps.options;
  }

  /** Pushes until the stream is drained; returns how many samples central took (new or relabelled). */
  async push(): Promise<number> {
    let pushed = 0;
    for (;;) {
      const { more, ok } = await this.#batch();
      pushed += ok;
      if (!more) return pushed;
    }
  }

  async #batch(): Promise<{ more: boolean; ok: number }> {
    const cursor = await this.#cursors.get(STREAM);
    const rows = await this.#db
      .selectFrom("label_revisions as lr")
      .innerJoin("samples as s", "s.id", "lr.sample_id")
      .innerJoin("projects as p", "p.id", "s.project_id")
      .leftJoin("events as e", "e.id", "s.event_id")
      .selectAll("lr")
      .select(["p.slug", "s.image_sha256", "s.image_format", "s.width", "s.height", "s.source as sample_source"])
      .select(["s.device_id", "s.incident_id", "s.event_id", "s.reason", "s.captured_at", "s.prediction"])
      .select(["s.group_key", "s.created_at as sample_created_at", "e.media_expected"])
      .where("lr.created_at", "<", settledBefore(this.#o.settleMs))
      .where((eb) => after(eb, "lr", cursor))
      .orderBy("lr.created_at")
      .orderBy("lr.id")
      .limit(this.#o.batch)
      .execute();
    if (rows.length === 0) return { more: false, ok: 0 };
    const full = rows.length === this.#o.batch;
    const current = new Set(
      (
        await this.#db
          .selectFrom("samples")
          .select("current_revision_id")
          .where(
            "id",
            "in",
            rows.map((r) => r.sample_id),
          )
          .execute()
      ).map((r) => r.current_revision_id),
    );
    // a verdict's sample whose frame is on its way waits for it, and what follows waits with it (in order)
    const waitFrom = settledBefore(this.#o.frameWaitMs);
    const waiting = rows.findIndex(
      (r) => !r.image_sha256 && Number(r.media_expected) > 0 && current.has(r.id) && r.created_at > waitFrom,
    );
    if (waiting !== -1) rows.splice(waiting);
    const items: SiteSample[] = [];
    for (const r of rows) {
      if (!current.has(r.id)) continue;
      // pushed down by a site of this hub: that site's own central path is not this one
      if (r.sample_source.startsWith("site:")) continue;
      // no image (its frame never came) or a blob gone from this site (retention): nothing to learn from
      if (!r.image_sha256 || !r.image_format || !(await this.#blobs.has(r.image_sha256))) continue;
      const content = JSON.parse(r.content) as LabelContent;
      if (!(await this.#masksHere(content))) continue;
      items.push({
        id: r.sample_id,
        projectSlug: r.slug,
        image: {
          sha256: r.image_sha256,
          format: r.image_format as "jpeg" | "png",
          width: Number(r.width),
          height: Number(r.height),
        },
        siteSource: r.sample_source,
        deviceId: r.device_id,
        incidentId: r.incident_id,
        eventId: r.event_id,
        reason: r.reason,
        capturedAt: r.captured_at,
        prediction: r.prediction ? (JSON.parse(r.prediction) as SiteSample["prediction"]) : null,
        groupKey: r.group_key,
        createdAt: r.sample_created_at,
        label: {
          revisionId: r.id,
          rev: Number(r.rev),
          status: r.status as SiteSample["label"]["status"],
          content,
          by: r.labeled_by,
          source: r.source as SiteSample["label"]["source"],
          verdictId: r.verdict_id,
          createdAt: r.created_at,
        },
      });
    }
    const reply = items.length > 0 ? await this.#send(items) : { ok: 0, duplicates: 0, failed: [] };
    // the cursor names revisions: a refusal is reported by sample id, so map it back
    const byRevision: PushReply = {
      ...reply,
      failed: reply.failed.map((f) => ({ ...f, item: items.find((i) => i.id === f.item)?.label.revisionId ?? f.item })),
    };
    await advanceCursor(this.#cursors, STREAM, rows, byRevision, this.#o.batch);
    return { more: full && waiting === -1, ok: reply.ok };
  }

  /** one push; the items central lacks bytes for get them uploaded and are pushed once more */
  async #send(items: SiteSample[]): Promise<PushReply> {
    const first = await this.#central.pushSamples({ items });
    const lacking = new Set(first.failed.filter((f) => f.code === "KENSA_ERR_BLOB_NOT_FOUND").map((f) => f.item));
    if (lacking.size === 0) return first;
    const again = items.filter((i) => lacking.has(i.id));
    const uploaded = new Set<string>();
    for (const i of again) {
      const shas = [i.image.sha256, ...i.label.content.objects.flatMap((o) => (o.mask ? [o.mask] : []))];
      for (const sha of shas) {
        if (uploaded.has(sha)) continue;
        const bytes = await this.#blobs.get(sha);
        // checked above; gone since (retention): central refuses the item again and it waits
        if (bytes) await this.#central.pushFrame(sha, bytes);
        uploaded.add(sha);
      }
    }
    const second = await this.#central.pushSamples({ items: again });
    return {
      ok: first.ok + second.ok,
      duplicates: first.duplicates + second.duplicates,
      failed: [...first.failed.filter((f) => !lacking.has(f.item)), ...second.failed],
    };
  }

  async #masksHere(content: LabelContent): Promise<boolean> {
    for (const o of content.objects) if (o.mask && !(await this.#blobs.has(o.mask))) return false;
    return true;
  }
}
