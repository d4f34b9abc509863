import { KensaError, type SiteRolloutOrder, type SiteRolloutReport, type SiteRolloutWave } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import { type Kysely, sql } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import type { ModelService } from "../registry/model-service.js";
import type { RegistryService } from "../registry/registry-service.js";
import type { Actor, RolloutService } from "../rollouts/rollout-service.js";
import type { StoredWave } from "../rollouts/rollout-store.js";
import type { CentralClient } from "./central-client.js";
import type { CursorStore } from "./cursor-store.js";
import type { SiteDownstream } from "./site-downstream.js";
import { settledBefore } from "./sync-cursor.js";

export interface SiteRolloutsDeps {
  db: Kysely<HubDatabase>;
  central: CentralClient;
  cursors: CursorStore;
  downstream: SiteDownstream;
  rollouts: RolloutService;
  models: ModelService;
  registry: RegistryService;
  log: FastifyBaseLogger;
  /** reports per push */
  batch: number;
  /** ms a change must be old before it is pushed (see `federation.settleMs`) */
  settleMs: number;
}

/** who the site's rollouts asked by central are created by, in their history and the audit log */
const CENTRAL: Actor = { actor: "central", actorKind: "system" };

/**
 * What the site's own rollout service refuses for good (the target, a rollout already holding
 * the devices, a version the site's people rejected): the site rollout is reported failed and
 * the stream goes on. Anything else (a download, the database) is retried on the next sync.
 */
const REFUSALS = new Set([
  "KENSA_ERR_MODEL_NOT_DEPLOYABLE",
  "KENSA_ERR_DEVICE_NOT_FOUND",
  "KENSA_ERR_DEVICE_RETIRED",
  "KENSA_ERR_DEPLOYMENT_NO_TARGETS",
  "KENSA_ERR_ROLLOUT_CONFLICT",
  "KENSA_ERR_VALIDATION",
]);

/** the stream of state reports, in (changed, central id) order */
const STATES = "rollout-states";

/**
 * A site hub's share of site rollouts (docs/rollouts.md, "Across sites"). Downstream: the
 * rollouts central asked of this site, in order behind a cursor; each becomes one local rollout
 * created by `central` through the site's rollout service, which then runs it with the site's
 * gates like any other. `federation_rollouts` commits with the rollout, so an order pulled twice
 * creates nothing twice. Upstream: each such rollout's state, pushed whenever it changed.
 */
export class SiteRollouts {
  #d: SiteRolloutsDeps;

  constructor(deps: SiteRolloutsDeps) {
    this.#d = deps;
  }

  /** Pulls until central has nothing newer; returns how many orders were applied (created or refused). */
  async pull(): Promise<number> {
    let applied = 0;
    for (;;) {
      const since = await this.#d.cursors.text("rollouts");
      const page = await this.#d.central.rolloutOrders({ ...(since ? { since } : {}), limit: 20 });
      for (const o of page.items) applied += await this.#apply(o);
      await this.#d.cursors.set("rollouts", page.nextCursor);
      if (page.items.length < 20) return applied;
    }
  }

  async #apply(o: SiteRolloutOrder): Promise<number> {
    if (await this.#known(o.id)) return 0;
    try {
      const { id: modelId, registered } = await this.#d.downstream.ensureModel(o.project, o.model);
      const model = await this.#d.models.get(modelId);
      // a version this order brought (its approval was passed over in a page) is approved by
      // central here too, without the auto-deploy: the rollout deploys it
      if (registered || model.stage === "candidate") {
        await this.#d.registry.decide(modelId, "approve", {
          by: "central",
          reason: `approved on central (model ${o.model.id}); rolled out by central's site rollout ${o.id}`,
          deploy: false,
        });
      }
      const created = await this.#d.rollouts.create(
        { modelVersionId: modelId, mode: "deploy", ...o.rollout },
        CENTRAL,
        async (trx, rolloutId) => {
          await trx
            .insertInto("federation_rollouts")
            .values({ central_rollout_id: o.id, rollout_id: rolloutId, error: null, created_at: isoNow() })
            .execute();
        },
      );
      this.#d.log.info(
        { rollout: created.id, central: o.id, model: modelId, waves: created.waves.length },
        "federation: central's site rollout started on this site",
      );
      return 1;
    } catch (err) {
      if (!(err instanceof KensaError) || !REFUSALS.has(err.code) || (await this.#known(o.id))) throw err;
      await this.#d.db
        .insertInto("federation_rollouts")
        .values({
          central_rollout_id: o.id,
          rollout_id: null,
          error: JSON.stringify({ code: err.code, message: err.message }),
          created_at: isoNow(),
        })
        .onConflict((oc) => oc.column("central_rollout_id").doNothing())
        .execute();
      this.#d.log.warn({ central: o.id, err: err.message }, "federation: this site refused central's site rollout");
      return 1;
    }
  }

  async #known(centralId: string): Promise<boolean> {
    const row = await this.#d.db
      .selectFrom("federation_rollouts")
      .select("central_rollout_id")
      .where("central_rollout_id", "=", centralId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Pushes the state of every site rollout that changed after the cursor, oldest change first;
   * returns how many reports central stored. Stops (throwing) at the first one central refuses.
   */
  async push(): Promise<number> {
    let stored = 0;
    for (;;) {
      const cursor = await this.#d.cursors.get(STATES);
      const changed = sql<string>`coalesce(r.updated_at, fr.created_at)`;
      const rows = await this.#d.db
        .selectFrom("federation_rollouts as fr")
        .leftJoin("rollouts as r", "r.id", "fr.rollout_id")
        .select(["fr.central_rollout_id as id", "fr.rollout_id", "fr.error"])
        .select(["r.state", "r.current_wave", "r.waves", "r.reason"])
        .select(changed.as("changed"))
        .where((eb) => eb.or([eb("fr.rollout_id", "is", null), eb("r.id", "is not", null)]))
        .where(changed, "<", settledBefore(this.#d.settleMs))
        .where((eb) =>
          eb.or([
            eb(changed, ">", cursor.at),
            eb.and([eb(changed, "=", cursor.at), eb("fr.central_rollout_id", ">", cursor.id)]),
          ]),
        )
        .orderBy(changed)
        .orderBy("fr.central_rollout_id")
        .limit(this.#d.batch)
        .execute();
      if (rows.length === 0) return stored;
      const items: SiteRolloutReport[] = rows.map((r) => ({
        id: r.id,
        rolloutId: r.rollout_id,
        state: r.rollout_id ? (r.state as SiteRolloutReport["state"]) : "failed",
        currentWave: Number(r.current_wave ?? 0),
        waves: r.waves ? (JSON.parse(r.waves) as StoredWave[]).map(waveOf) : [],
        reason: r.reason ?? null,
        error: r.error ? (JSON.parse(r.error) as { code: string; message: string }) : null,
        updatedAt: r.changed,
      }));
      const reply = await this.#d.central.pushRollouts({ items });
      stored += reply.ok;
      const refused = new Set(reply.failed.map((f) => f.item));
      const stop = rows.findIndex((r) => refused.has(r.id));
      const passed = stop === -1 ? rows : rows.slice(0, stop);
      const last = passed.at(-1);
      if (last) await this.#d.cursors.set(STATES, { at: last.changed, id: last.id });
      if (stop !== -1) {
        const f = reply.failed.find((x) => x.item === rows[stop]!.id)!;
        throw new KensaError(
          f.code === "KENSA_ERR_ROLLOUT_NOT_FOUND" ? f.code : "KENSA_ERR_INTERNAL",
          `central refused the state of site rollout ${f.item}: ${f.message}`,
        );
      }
      if (rows.length < this.#d.batch) return stored;
    }
  }
}

/** a wave as central is told of it (without the site's per-device windows) */
function waveOf(w: StoredWave): SiteRolloutWave {
  return {
    index: w.index,
    deviceIds: w.deviceIds,
    state: w.state,
    startedAt: w.startedAt,
    endedAt: w.endedAt,
    gates: w.gates,
  };
}
