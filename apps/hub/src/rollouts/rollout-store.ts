import {
  KensaError,
  type Rollout,
  type RolloutGates,
  type RolloutMode,
  type RolloutQuery,
  type RolloutState,
  type RolloutStrategy,
  type RolloutWave,
} from "@kensa/contracts";
import type { Kysely, Selectable } from "kysely";
import type { RolloutsTable } from "../db/schema/rollouts.js";
import type { HubDatabase } from "../db/schema.js";
import type { StoredBundleRef } from "../fleet/desired-state.js";

/** A wave as stored: what the API shows plus where its windows start. */
export interface StoredWave extends RolloutWave {
  /** bundles the wave's devices were sent */
  bundleShas: string[];
  /** per device of the wave and of the control, the highest event seq when the wave started */
  fromSeq: Record<string, number>;
  /** per wave device, its inference session restarts when the wave started */
  restartsAtStart: Record<string, number>;
}

/** A rollout as the service works with it. */
export interface StoredRollout extends Omit<Rollout, "waves"> {
  waves: StoredWave[];
  /** per target device, what its pipeline ran (or shadowed) before the rollout */
  previous: Record<string, StoredBundleRef | null>;
}

export function toApi(r: StoredRollout): Rollout {
  const { previous: _previous, waves, ...rest } = r;
  return {
    ...rest,
    waves: waves.map(({ bundleShas: _b, fromSeq: _f, restartsAtStart: _r, ...w }) => w),
  };
}

function fromRow(row: Selectable<RolloutsTable>): StoredRollout {
  return {
    id: row.id,
    projectId: row.project_id,
    modelVersionId: row.model_version_id,
    championModelVersionId: row.champion_model_version_id,
    pipeline: row.pipeline,
    mode: row.mode as RolloutMode,
    precision: row.precision as Rollout["precision"],
    target: JSON.parse(row.target) as Rollout["target"],
    strategy: JSON.parse(row.strategy) as RolloutStrategy,
    gates: JSON.parse(row.gates) as RolloutGates,
    state: row.state as RolloutState,
    currentWave: Number(row.current_wave),
    waves: JSON.parse(row.waves) as StoredWave[],
    previous: JSON.parse(row.previous) as StoredRollout["previous"],
    reason: row.reason,
    history: JSON.parse(row.history) as Rollout["history"],
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toRow(r: StoredRollout): RolloutsTable {
  return {
    id: r.id,
    project_id: r.projectId,
    model_version_id: r.modelVersionId,
    champion_model_version_id: r.championModelVersionId,
    pipeline: r.pipeline,
    mode: r.mode,
    precision: r.precision,
    target: JSON.stringify(r.target),
    strategy: JSON.stringify(r.strategy),
    gates: JSON.stringify(r.gates),
    state: r.state,
    current_wave: r.currentWave,
    waves: JSON.stringify(r.waves),
    previous: JSON.stringify(r.previous),
    reason: r.reason,
    history: JSON.stringify(r.history),
    created_by: r.createdBy,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

/** States a rollout is still deciding in: it holds its devices' pipeline. */
export const LIVE_STATES: readonly RolloutState[] = ["planned", "running", "paused"];

export class RolloutStore {
  #db: Kysely<HubDatabase>;

  constructor(db: Kysely<HubDatabase>) {
    this.#db = db;
  }

  /** stores a new rollout, and runs `also` in the same transaction when given */
  async insert(r: StoredRollout, also?: (trx: Kysely<HubDatabase>) => Promise<void>): Promise<void> {
    if (!also) {
      await this.#db.insertInto("rollouts").values(toRow(r)).execute();
      return;
    }
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto("rollouts").values(toRow(r)).execute();
      await also(trx);
    });
  }

  /**
   * Writes the rollout if nobody changed it since `seenAt` (its updatedAt when read): a person's
   * action on one replica and the gate check on another never overwrite each other.
   */
  async save(r: StoredRollout, seenAt: string): Promise<void> {
    const res = await this.#db
      .updateTable("rollouts")
      .set(toRow(r))
      .where("id", "=", r.id)
      .where("updated_at", "=", seenAt)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) {
      throw new KensaError("KENSA_ERR_ROLLOUT_STATE", `rollout ${r.id} changed meanwhile; look at it again`, {
        rolloutId: r.id,
      });
    }
  }

  async get(id: string): Promise<StoredRollout> {
    const row = await this.#db.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new KensaError("KENSA_ERR_ROLLOUT_NOT_FOUND", `no rollout ${id}`, { rolloutId: id });
    return fromRow(row);
  }

  async list(q: RolloutQuery & { states?: readonly RolloutState[] } = {}): Promise<StoredRollout[]> {
    let query = this.#db.selectFrom("rollouts").selectAll().orderBy("created_at", "desc").orderBy("id", "desc");
    if (q.projectId) query = query.where("project_id", "=", q.projectId);
    if (q.state) query = query.where("state", "=", q.state);
    if (q.states) query = query.where("state", "in", [...q.states]);
    return (await query.execute()).map(fromRow);
  }
}
