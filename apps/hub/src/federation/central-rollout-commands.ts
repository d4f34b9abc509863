import {
  KensaError,
  type PushReply,
  type RolloutState,
  type SiteRolloutAction,
  type SiteRolloutCommand,
  type SiteRolloutCommandOrdersReply,
  type SiteRolloutCommandResult,
  type SiteRolloutCommandState,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import { isoNow } from "../clock.js";
import type { SitesTable } from "../db/schema/federation.js";
import type { SiteRolloutCommandsTable } from "../db/schema/site-rollout-commands.js";
import type { HubDatabase } from "../db/schema.js";
import { newId } from "../ids.js";
import { storePushed } from "./store-pushed.js";
import { decodeSyncCursor, encodeSyncCursor, settledBefore } from "./sync-cursor.js";

type SiteRow = Selectable<SitesTable>;

/** site rollout states that never change again: a command to one is refused at once */
const FINISHED = new Set(["completed", "rolled_back", "aborted", "failed"]);

/**
 * On a central hub: pause, resume and rollback sent to a site rollout (docs/rollouts.md, "Across
 * sites"). Each is recorded (who, when, why) and served to the site after its cursor, oldest
 * first, like the rollout requests; the site applies it through its own rollout service and
 * pushes back what came of it, which is stored once (a result resent after a cut changes nothing).
 */
export class CentralRolloutCommands {
  #db: Kysely<HubDatabase>;
  /** ms a command must be old before a site is given it (see `federation.settleMs`) */
  #settleMs: number;

  constructor(db: Kysely<HubDatabase>, settleMs: number) {
    this.#db = db;
    this.#settleMs = settleMs;
  }

  /**
   * Records a command for the site to apply on its next sync. Throws KENSA_ERR_ROLLOUT_NOT_FOUND
   * (no such rollout asked of this site) and KENSA_ERR_ROLLOUT_STATE when the site already
   * reported the rollout finished (or could not create it). A state the site has not reported
   * yet is the site's to judge: it answers KENSA_ERR_ROLLOUT_STATE, which comes back up.
   */
  async create(
    site: SiteRow,
    siteRolloutId: string,
    action: SiteRolloutAction,
    reason: string | undefined,
    by: string,
  ): Promise<SiteRolloutCommand> {
    const rollout = await this.#db
      .selectFrom("site_rollouts")
      .select(["id", "state"])
      .where("id", "=", siteRolloutId)
      .where("site_id", "=", site.id)
      .executeTakeFirst();
    if (!rollout) {
      throw new KensaError("KENSA_ERR_ROLLOUT_NOT_FOUND", `site ${site.id} has no rollout "${siteRolloutId}"`);
    }
    if (FINISHED.has(rollout.state)) {
      throw new KensaError(
        "KENSA_ERR_ROLLOUT_STATE",
        `site rollout ${siteRolloutId} is ${rollout.state}: there is nothing left to ${action}`,
        { rolloutId: siteRolloutId, state: rollout.state, siteId: site.id },
      );
    }
    const row: SiteRolloutCommandsTable = {
      id: newId("scm"),
      site_id: site.id,
      site_rollout_id: siteRolloutId,
      action,
      reason: reason?.trim() || null,
      created_by: by,
      created_at: isoNow(),
      state: "pending",
      rollout_state: null,
      error: null,
      answered_at: null,
    };
    await this.#db.insertInto("site_rollout_commands").values(row).execute();
    return toCommand(row);
  }

  /** every command of the site's rollouts, oldest first, by site rollout id */
  async bySiteRollout(siteId: string): Promise<Map<string, SiteRolloutCommand[]>> {
    const rows = await this.#db
      .selectFrom("site_rollout_commands")
      .selectAll()
      .where("site_id", "=", siteId)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    const out = new Map<string, SiteRolloutCommand[]>();
    for (const r of rows) {
      const list = out.get(r.site_rollout_id) ?? [];
      list.push(toCommand(r));
      out.set(r.site_rollout_id, list);
    }
    return out;
  }

  /** Commands for the site after `since`, oldest first; those younger than the settle time wait. */
  async orders(site: SiteRow, since: string | undefined, limit: number): Promise<SiteRolloutCommandOrdersReply> {
    const cursor = decodeSyncCursor(since);
    const rows = await this.#db
      .selectFrom("site_rollout_commands")
      .selectAll()
      .where("site_id", "=", site.id)
      .where("created_at", "<", settledBefore(this.#settleMs))
      .where((eb) =>
        eb.or([eb("created_at", ">", cursor.at), eb.and([eb("created_at", "=", cursor.at), eb("id", ">", cursor.id)])]),
      )
      .orderBy("created_at")
      .orderBy("id")
      .limit(limit)
      .execute();
    const last = rows.at(-1);
    return {
      items: rows.map((r) => ({
        id: r.id,
        siteRolloutId: r.site_rollout_id,
        action: r.action as SiteRolloutAction,
        reason: r.reason,
        createdBy: r.created_by,
        createdAt: r.created_at,
      })),
      nextCursor: encodeSyncCursor(last ? { at: last.created_at, id: last.id } : cursor),
    };
  }

  /** Stores the site's answer to each command once; per item, never thrown half-way. */
  async results(site: SiteRow, items: SiteRolloutCommandResult[]): Promise<PushReply> {
    return storePushed(items, {
      store: async (item) => {
        const res = await this.#db
          .updateTable("site_rollout_commands")
          .set({
            state: item.outcome,
            rollout_state: item.rolloutState,
            error: item.error ? JSON.stringify(item.error) : null,
            answered_at: item.answeredAt,
          })
          .where("id", "=", item.id)
          .where("site_id", "=", site.id)
          .where("state", "=", "pending")
          .executeTakeFirst();
        return Number(res.numUpdatedRows) > 0;
      },
      knows: async (item) =>
        !!(await this.#db
          .selectFrom("site_rollout_commands")
          .select("id")
          .where("id", "=", item.id)
          .where("site_id", "=", site.id)
          .executeTakeFirst()),
      unknown: (item) => ({
        code: "KENSA_ERR_ROLLOUT_NOT_FOUND",
        message: `central sent site ${site.id} no rollout command ${item.id}`,
      }),
    });
  }
}

function toCommand(r: Selectable<SiteRolloutCommandsTable>): SiteRolloutCommand {
  return {
    id: r.id,
    siteRolloutId: r.site_rollout_id,
    siteId: r.site_id,
    action: r.action as SiteRolloutAction,
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: r.created_at,
    state: r.state as SiteRolloutCommandState,
    rolloutState: r.rollout_state as RolloutState | null,
    error: r.error ? (JSON.parse(r.error) as { code: string; message: string }) : null,
    answeredAt: r.answered_at,
  };
}
