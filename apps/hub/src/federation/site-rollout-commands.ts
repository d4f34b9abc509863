import {
  KensaError,
  type Rollout,
  type RolloutState,
  type SiteRolloutAction,
  type SiteRolloutCommandOrder,
  type SiteRolloutCommandResult,
} from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import type { Actor, RolloutService } from "../rollouts/rollout-service.js";
import type { CentralClient } from "./central-client.js";
import type { CursorStore } from "./cursor-store.js";
import { advanceCursor } from "./site-upstream.js";
import { settledBefore } from "./sync-cursor.js";

export interface SiteRolloutCommandsDeps {
  db: Kysely<HubDatabase>;
  central: CentralClient;
  cursors: CursorStore;
  rollouts: RolloutService;
  log: FastifyBaseLogger;
  /** results per push */
  batch: number;
  /** ms an answer must be old before it is pushed (see `federation.settleMs`) */
  settleMs: number;
}

/** the stream of commands pulled, and the stream of answers pushed back */
const COMMANDS = "rollout-commands";
const RESULTS = "rollout-command-results";
const PAGE = 20;

/**
 * What the site's rollout service refuses for good (the rollout finished or is not in a state
 * the action needs, a wave's devices gone): the command is answered `refused` with that code and
 * the stream goes on. Anything else (the database, a deployment) is retried on the next sync.
 */
const REFUSALS = new Set([
  "KENSA_ERR_ROLLOUT_STATE",
  "KENSA_ERR_ROLLOUT_NOT_FOUND",
  "KENSA_ERR_ROLLOUT_CONFLICT",
  "KENSA_ERR_DEPLOYMENT_NO_TARGETS",
  "KENSA_ERR_DEVICE_NOT_FOUND",
  "KENSA_ERR_DEVICE_RETIRED",
  "KENSA_ERR_MODEL_NOT_DEPLOYABLE",
  "KENSA_ERR_VALIDATION",
]);

const DONE: Record<SiteRolloutAction, string> = { pause: "paused", resume: "resumed", rollback: "rolled back" };

/** the mark a command leaves in the rollout's history: how a command applied before a lost answer is known */
const mark = (commandId: string) => `[central command ${commandId}]`;

/**
 * A site hub's share of central's commands to its site rollouts (docs/rollouts.md, "Across
 * sites"): pause, resume or rollback, pulled in order behind a cursor and applied once each
 * through the site's own rollout service, as a person on the site would (so a rollback sends
 * devices back to what they ran). The answer (applied, or refused with the service's code) is
 * kept in `federation_rollout_commands` and pushed back; the rollout's new state travels with
 * the rollout's own reports (SiteRollouts.push).
 *
 * A command pulled twice acts once: its row says it was answered, and a command applied just
 * before a crash lost its row is found by its mark in the rollout's history.
 */
export class SiteRolloutCommands {
  #d: SiteRolloutCommandsDeps;

  constructor(deps: SiteRolloutCommandsDeps) {
    this.#d = deps;
  }

  /** Pulls until central has nothing newer; returns how many commands were answered. */
  async pull(): Promise<number> {
    let answered = 0;
    for (;;) {
      const since = await this.#d.cursors.text(COMMANDS);
      const page = await this.#d.central.rolloutCommands({ ...(since ? { since } : {}), limit: PAGE });
      for (const c of page.items) answered += await this.#apply(c);
      await this.#d.cursors.set(COMMANDS, page.nextCursor);
      if (page.items.length < PAGE) return answered;
    }
  }

  async #apply(c: SiteRolloutCommandOrder): Promise<number> {
    const answered = await this.#d.db
      .selectFrom("federation_rollout_commands")
      .select("command_id")
      .where("command_id", "=", c.id)
      .executeTakeFirst();
    if (answered) return 0;
    const local = await this.#d.db
      .selectFrom("federation_rollouts")
      .selectAll()
      .where("central_rollout_id", "=", c.siteRolloutId)
      .executeTakeFirst();
    if (!local) {
      // the rollout's request is still on its way (its stream failed this sync): the command
      // waits for it, and so do those behind it
      throw new KensaError(
        "KENSA_ERR_ROLLOUT_NOT_FOUND",
        `central's command ${c.id} names rollout ${c.siteRolloutId}, which has not reached this site yet`,
      );
    }
    if (!local.rollout_id) {
      const why = local.error ? (JSON.parse(local.error) as { code: string }).code : "refused";
      return this.#answer(c, "refused", null, {
        code: "KENSA_ERR_ROLLOUT_STATE",
        message: `this site could not create rollout ${c.siteRolloutId} (${why}): there is nothing to ${c.action}`,
      });
    }
    const before = await this.#d.rollouts.get(local.rollout_id);
    if (before.history.some((h) => h.reason.includes(mark(c.id)))) {
      return this.#answer(c, "applied", before.state, null);
    }
    const by: Actor = { actor: `central:${c.createdBy}`, actorKind: "system" };
    const reason = `${c.reason ?? `${DONE[c.action]} from central by ${c.createdBy}`} ${mark(c.id)}`;
    let after: Rollout;
    try {
      after = await this.#d.rollouts[c.action](local.rollout_id, by, reason);
    } catch (err) {
      if (!(err instanceof KensaError) || !REFUSALS.has(err.code)) throw err;
      const now = await this.#d.rollouts.get(local.rollout_id);
      this.#d.log.warn(
        { command: c.id, rollout: local.rollout_id, err: err.message },
        `federation: this site refused central's ${c.action}`,
      );
      return this.#answer(c, "refused", now.state, { code: err.code, message: err.message });
    }
    this.#d.log.info(
      { command: c.id, rollout: after.id, state: after.state, by: c.createdBy },
      `federation: central's ${c.action} applied to a site rollout`,
    );
    return this.#answer(c, "applied", after.state, null);
  }

  async #answer(
    c: SiteRolloutCommandOrder,
    outcome: SiteRolloutCommandResult["outcome"],
    state: RolloutState | null,
    error: { code: string; message: string } | null,
  ): Promise<number> {
    await this.#d.db
      .insertInto("federation_rollout_commands")
      .values({
        command_id: c.id,
        central_rollout_id: c.siteRolloutId,
        outcome,
        rollout_state: state,
        error: error ? JSON.stringify(error) : null,
        answered_at: isoNow(),
      })
      .onConflict((oc) => oc.column("command_id").doNothing())
      .execute();
    return 1;
  }

  /** Pushes every answer after the cursor, oldest first; returns how many central stored. */
  async push(): Promise<number> {
    let stored = 0;
    for (;;) {
      const cursor = await this.#d.cursors.get(RESULTS);
      const rows = await this.#d.db
        .selectFrom("federation_rollout_commands")
        .selectAll()
        .where("answered_at", "<", settledBefore(this.#d.settleMs))
        .where((eb) =>
          eb.or([
            eb("answered_at", ">", cursor.at),
            eb.and([eb("answered_at", "=", cursor.at), eb("command_id", ">", cursor.id)]),
          ]),
        )
        .orderBy("answered_at")
        .orderBy("command_id")
        .limit(this.#d.batch)
        .execute();
      if (rows.length === 0) return stored;
      const items: SiteRolloutCommandResult[] = rows.map((r) => ({
        id: r.command_id,
        outcome: r.outcome as SiteRolloutCommandResult["outcome"],
        rolloutState: r.rollout_state as RolloutState | null,
        error: r.error ? (JSON.parse(r.error) as { code: string; message: string }) : null,
        answeredAt: r.answered_at,
      }));
      const reply = await this.#d.central.pushRolloutCommandResults({ items });
      stored += reply.ok;
      const positions = rows.map((r) => ({ id: r.command_id, created_at: r.answered_at }));
      if (!(await advanceCursor(this.#d.cursors, RESULTS, positions, reply, this.#d.batch))) return stored;
    }
  }
}
