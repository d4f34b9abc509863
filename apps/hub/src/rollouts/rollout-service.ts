import {
  type ActorKind,
  type CreateRollout,
  KensaError,
  type Rollout,
  type RolloutQuery,
  type RolloutState,
} from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Kysely } from "kysely";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import type { DeploymentService } from "../fleet/deployment-service.js";
import type { ModelLookup } from "../fleet/ports.js";
import { newId } from "../ids.js";
import type { AuditLog } from "../people/audit-log.js";
import type { ProjectService } from "../projects/project-service.js";
import { SerialQueue } from "../serial-queue.js";
import { evaluateWave, type ShadowAgreementPort } from "./rollout-evaluate.js";
import { gatesOf, planWaves, strategyOf } from "./rollout-plan.js";
import { RolloutStore, type StoredRollout, type StoredWave, toApi } from "./rollout-store.js";
import { checkConflict, targetDevices } from "./rollout-targets.js";
import { restoreDevices, startWave } from "./rollout-waves.js";

/** A transition people should hear about, handed to the notification channels after it is stored. */
export interface RolloutAlert {
  rollout: Rollout;
  kind: "paused" | "rolled_back" | "completed" | "aborted";
  reason: string;
  /** who decided: `hub` for a gate's breach or a passed last wave */
  by: string;
}

export type RolloutAlerts = (alert: RolloutAlert) => Promise<void>;

export interface Actor {
  actor: string;
  actorKind: ActorKind;
}

/** the hub's own decisions (a breached gate, a passed wave) */
const HUB: Actor = { actor: "hub", actorKind: "system" };

export interface RolloutServiceDeps {
  db: Kysely<HubDatabase>;
  deployments: DeploymentService;
  models: ModelLookup;
  projects: ProjectService;
  audit: AuditLog;
  log: FastifyBaseLogger;
  /** shadow mode's agreement figures (shadow/); without it the shadow gate waits */
  shadow?: ShadowAgreementPort;
  /** tells people (the project's notification channels) that a rollout paused, rolled back, completed or was aborted */
  alerts?: RolloutAlerts;
  now?: () => number;
}

/**
 * Staged rollouts (docs/rollouts.md): plans the waves, deploys each through the deployment
 * service, judges it on field signals against a control group (rollout-evaluate.ts), and sends
 * devices back when a gate breaches. Every transition is in the rollout's history and the audit log.
 */
export class RolloutService {
  #d: RolloutServiceDeps;
  #store: RolloutStore;
  /** one change of rollouts at a time on this replica; replicas are kept apart by the store's check */
  #queue = new SerialQueue();

  constructor(deps: RolloutServiceDeps) {
    this.#d = deps;
    this.#store = new RolloutStore(deps.db);
  }

  #now(): number {
    return this.#d.now?.() ?? Date.now();
  }

  async get(id: string): Promise<Rollout> {
    return toApi(await this.#store.get(id));
  }

  async list(q: RolloutQuery = {}): Promise<Rollout[]> {
    return (await this.#store.list(q)).map(toApi);
  }

  /** `onInsert` runs in the transaction that stores the rollout (federation's record of it commits with it). */
  create(
    input: CreateRollout,
    by: Actor,
    onInsert?: (trx: Kysely<HubDatabase>, id: string) => Promise<void>,
  ): Promise<Rollout> {
    return this.#queue.run(async () => {
      const mode = input.mode ?? "deploy";
      const model = await this.#d.models.get(input.modelVersionId);
      // only approved versions replace what devices run; a candidate may only watch beside it
      const allowed = mode === "deploy" ? ["approved"] : ["approved", "candidate"];
      if (!allowed.includes(model.stage)) {
        throw new KensaError(
          "KENSA_ERR_MODEL_NOT_DEPLOYABLE",
          mode === "deploy"
            ? `model ${model.name} v${model.version} is ${model.stage}: only approved versions roll out (a candidate may run in shadow mode)`
            : `model ${model.name} v${model.version} is ${model.stage}: a shadow must be a candidate or approved`,
          { modelVersionId: model.id, stage: model.stage, mode },
        );
      }
      const project = await this.#d.projects.get(model.projectId);
      const pipeline = input.pipeline ?? "default";
      const target = { deviceIds: [...(input.target?.deviceIds ?? [])], tags: [...(input.target?.tags ?? [])] };
      const devices = await targetDevices(this.#d.db, project.id, target);
      await checkConflict(
        this.#store,
        project.id,
        pipeline,
        devices.map((d) => d.id),
      );

      const previous: StoredRollout["previous"] = {};
      const champions = new Map<string, number>();
      for (const d of devices) {
        const entry = d.desired?.pipelines.find((p) => p.id === pipeline);
        previous[d.id] = (mode === "shadow" ? entry?.shadow : entry?.bundle) ?? null;
        const runs = entry?.bundle?.modelVersionId;
        if (runs) champions.set(runs, (champions.get(runs) ?? 0) + 1);
      }
      if (mode === "deploy" && devices.every((d) => previous[d.id]?.modelVersionId === model.id)) {
        throw new KensaError("KENSA_ERR_DEPLOYMENT_NO_TARGETS", "every target device already runs this version");
      }
      const champion = [...champions.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? null;
      const strategy = strategyOf(input.strategy);
      const now = isoNow();
      const r: StoredRollout = {
        id: newId("rol"),
        projectId: project.id,
        modelVersionId: model.id,
        championModelVersionId: champion,
        pipeline,
        mode,
        precision: input.precision ?? "auto",
        target,
        strategy,
        gates: gatesOf(input.gates),
        state: "planned",
        currentWave: 0,
        waves: planWaves(
          devices.map((d) => d.id),
          strategy,
        ).map(emptyWave),
        previous,
        reason: null,
        history: [{ at: now, from: null, to: "planned", by: by.actor, reason: "created" }],
        createdBy: by.actor,
        createdAt: now,
        updatedAt: now,
      };
      await this.#store.insert(r, onInsert && ((trx) => onInsert(trx, r.id)));
      await this.#audit(by, "rollout.create", r, {
        modelVersionId: model.id,
        champion,
        mode,
        waves: r.waves.map((w) => w.deviceIds.length),
      });
      if (input.start === false) return toApi(r);
      return toApi(await this.#change(r, by, async (x) => this.#startWave(x, 0), "running", "started"));
    });
  }

  pause(id: string, by: Actor, reason?: string): Promise<Rollout> {
    return this.#act(id, by, ["running"], "paused", reason ?? "paused by a person", async () => {});
  }

  resume(id: string, by: Actor, reason?: string): Promise<Rollout> {
    return this.#act(id, by, ["planned", "paused"], "running", reason ?? "resumed", async (r) => {
      const wave = r.waves[r.currentWave]!;
      if (r.state === "planned") await this.#startWave(r, 0);
      // a wave sent back (or never started) is deployed and baked again, from a new window
      else if (wave.state !== "baking") await this.#redeployTo(r, r.currentWave);
    });
  }

  promote(id: string, by: Actor, reason?: string): Promise<Rollout> {
    return this.#act(
      id,
      by,
      ["running", "paused"],
      "running",
      reason ?? "wave passed by a person",
      async (r) => {
        const wave = r.waves[r.currentWave]!;
        if (wave.state !== "baking") await this.#redeployTo(r, r.currentWave);
        if (await this.#passWave(r)) r.state = "completed";
      },
      "promote",
    );
  }

  rollback(id: string, by: Actor, reason?: string): Promise<Rollout> {
    return this.#act(id, by, ["running", "paused"], "rolled_back", reason ?? "rolled back by a person", async (r) => {
      await this.#sendBack(r);
    });
  }

  abort(id: string, by: Actor, reason?: string): Promise<Rollout> {
    return this.#act(id, by, ["planned", "running", "paused"], "aborted", reason ?? "aborted", async () => {});
  }

  /** Judges every running rollout's current wave once (the ticker calls it; tests may too). */
  async tick(): Promise<void> {
    for (const r of await this.#store.list({ states: ["running"] })) {
      await this.#queue
        .run(() => this.#judge(r.id))
        .catch((err: unknown) => this.#d.log.error({ err, rolloutId: r.id }, "rollout: judging a wave failed"));
    }
  }

  async #judge(id: string): Promise<void> {
    const r = await this.#store.get(id);
    const wave = r.waves[r.currentWave];
    if (r.state !== "running" || !wave || wave.state !== "baking") return;
    const seenAt = r.updatedAt;
    const verdict = await evaluateWave(this.#d.db, r, this.#now(), this.#d.shadow);
    wave.gates = verdict.gates;
    wave.evaluatedAt = isoNow();
    if (verdict.decision === "breach") {
      wave.state = "breached";
      const auto = r.gates.autoRollback;
      if (auto) await this.#sendBack(r);
      const reason = `${verdict.reason}${auto ? "; every device it reached was sent back to what it ran before" : ""}`;
      this.#transition(r, HUB, "paused", reason);
      await this.#store.save(r, seenAt);
      await this.#audit(HUB, "rollout.breach", r, { wave: wave.index, gates: verdict.gates, rolledBack: auto });
      await this.#alert(r, HUB);
      this.#d.log.warn({ rolloutId: r.id, reason }, "rollout paused: a gate breached");
    } else if (verdict.decision === "pass") {
      const done = await this.#passWave(r);
      if (done) this.#transition(r, HUB, "completed", "every wave passed its gates");
      else r.updatedAt = isoNow();
      await this.#store.save(r, seenAt);
      await this.#audit(HUB, "rollout.wave_passed", r, { wave: wave.index, state: r.state });
      if (done) await this.#alert(r, HUB);
    } else if (verdict.decision === "timeout") {
      this.#transition(r, HUB, "paused", verdict.reason);
      await this.#store.save(r, seenAt);
      await this.#audit(HUB, "rollout.pause", r, { wave: wave.index, reason: verdict.reason });
      await this.#alert(r, HUB);
    } else {
      r.updatedAt = isoNow();
      await this.#store.save(r, seenAt);
    }
  }

  /** The current wave passed: the next one starts; true when it was the last (the rollout is complete). */
  async #passWave(r: StoredRollout): Promise<boolean> {
    const wave = r.waves[r.currentWave]!;
    wave.state = "passed";
    wave.endedAt = isoNow();
    return this.#startFrom(r, r.currentWave + 1);
  }

  /**
   * Starts wave `index`, or the first after it that still has a device in service (a wave whose
   * devices were all retired since is passed over); true when no wave was left to start.
   */
  async #startFrom(r: StoredRollout, index: number): Promise<boolean> {
    for (let i = index; i < r.waves.length; i++) if (await startWave(this.#d, r, i)) return false;
    return true;
  }

  async #startWave(r: StoredRollout, index: number): Promise<void> {
    if (await this.#startFrom(r, index)) r.state = "completed";
  }

  /** Deploys again every wave up to `index` that was sent back, then starts `index` afresh. */
  async #redeployTo(r: StoredRollout, index: number): Promise<void> {
    for (const w of r.waves.slice(0, index)) {
      if (w.state === "rolled_back") {
        await startWave(this.#d, r, w.index);
        w.state = "passed";
        w.endedAt = isoNow();
      }
    }
    await this.#startWave(r, index);
  }

  /** Every device the rollout reached goes back to what it ran (or shadowed) before. */
  async #sendBack(r: StoredRollout): Promise<void> {
    const reached = r.waves.filter((w) => w.startedAt && w.state !== "rolled_back" && w.state !== "pending");
    await restoreDevices(
      this.#d,
      r,
      reached.flatMap((w) => w.deviceIds),
    );
    for (const w of reached) {
      w.state = "rolled_back";
      w.endedAt = isoNow();
    }
  }

  async #act(
    id: string,
    by: Actor,
    from: readonly RolloutState[],
    to: RolloutState,
    reason: string,
    work: (r: StoredRollout) => Promise<void>,
    verb?: string,
  ): Promise<Rollout> {
    return this.#queue.run(async () => {
      const r = await this.#store.get(id);
      if (!from.includes(r.state)) {
        throw new KensaError(
          "KENSA_ERR_ROLLOUT_STATE",
          `rollout ${id} is ${r.state}; this needs it ${from.join(" or ")}`,
          { rolloutId: id, state: r.state, allowed: from },
        );
      }
      return toApi(await this.#change(r, by, work, to, reason, verb));
    });
  }

  async #change(
    r: StoredRollout,
    by: Actor,
    work: (r: StoredRollout) => Promise<void>,
    to: RolloutState,
    reason: string,
    verb?: string,
  ): Promise<StoredRollout> {
    const seenAt = r.updatedAt;
    const from = r.state;
    await work(r);
    // promoting the last wave completes the rollout
    const next = to === "running" && r.state === "completed" ? "completed" : to;
    r.state = from;
    this.#transition(r, by, next, reason);
    await this.#store.save(r, seenAt);
    await this.#audit(by, `rollout.${verb ?? verbOf(next, from)}`, r, { from, to: next, reason });
    await this.#alert(r, by);
    return r;
  }

  #transition(r: StoredRollout, by: Actor, to: RolloutState, reason: string): void {
    const at = isoNow();
    r.history.push({ at, from: r.state, to, by: by.actor, reason });
    r.state = to;
    r.reason = to === "running" || to === "completed" ? null : reason;
    r.updatedAt = at;
  }

  /** Hands the transition just stored to the notification channels; a failure there never undoes it. */
  async #alert(r: StoredRollout, by: Actor): Promise<void> {
    const kind = r.state;
    if (
      !this.#d.alerts ||
      (kind !== "paused" && kind !== "rolled_back" && kind !== "completed" && kind !== "aborted")
    ) {
      return;
    }
    await this.#d
      .alerts({ rollout: toApi(r), kind, reason: r.history.at(-1)?.reason ?? "", by: by.actor })
      .catch((err: unknown) => this.#d.log.error({ err, rolloutId: r.id }, "rollout: notifying people failed"));
  }

  async #audit(by: Actor, action: string, r: StoredRollout, details: Record<string, unknown>): Promise<void> {
    await this.#d.audit.record({
      actor: by.actor,
      actorKind: by.actorKind,
      action,
      target: { type: "rollout", id: r.id },
      details: { projectId: r.projectId, modelVersionId: r.modelVersionId, pipeline: r.pipeline, ...details },
    });
  }
}

function emptyWave(deviceIds: string[], index: number): StoredWave {
  return {
    index,
    deviceIds,
    state: "pending",
    deploymentId: null,
    startedAt: null,
    endedAt: null,
    gates: [],
    evaluatedAt: null,
    bundleShas: [],
    fromSeq: {},
    restartsAtStart: {},
  };
}

function verbOf(to: RolloutState, from: RolloutState): string {
  if (to === "running") return from === "planned" ? "start" : "resume";
  if (to === "paused") return "pause";
  if (to === "rolled_back") return "rollback";
  if (to === "aborted") return "abort";
  return "complete";
}
