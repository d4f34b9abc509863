import { ApiError, type KensaClient } from "@kensa/client";
import {
  backtestRoutes,
  type CreateRollout,
  fleetRoutes,
  type GateName,
  type Rollout,
  registryRoutes,
  rolloutRoutes,
  shadowRoutes,
  systemRoutes,
} from "@kensa/contracts";
import { backtestLine, backtestOf, pct, shadowLine, type VersionNames, vName } from "./demo-fleet.js";
import { pushChallenger } from "./demo-models.js";

export interface RolloutDriverOptions {
  api: KensaClient;
  projectId: string;
  /** the tag every camera of the line carries: the rollouts' target */
  tag: string;
  /** the device every rollout starts with */
  canary: string;
  /** how the champion came about: the challenger is another kind of model than it */
  firstModel: "trained" | "hand-built";
  /** the simulated reviewer answers incidents: the false-alarm gate waits for its verdicts */
  reviewer: boolean;
  log: (line: string) => void;
  /** ms between two looks at the hub */
  intervalMs?: number;
  /** s each wave bakes (30 by default) */
  bakeSeconds?: number;
  /** frames each group must show before a rate or agreement gate may pass (60 by default) */
  minFrames?: number;
  /** ms the challenger shadows before its backtest is asked for (45 s by default) */
  backtestAfterMs?: number;
}

const PIPELINE = "default";
/** s each wave bakes: long enough for a few dozen frames at the demo's 2 fps, short enough to watch */
const BAKE_SECONDS = 30;
/** frames each group must show before a rate or agreement gate may pass: the bake's worth at 2 fps */
const MIN_FRAMES = 60;
/** s a wave may wait for evidence before the rollout pauses; the hub's default (15 min) is longer than a demo */
const EVIDENCE_TIMEOUT_SECONDS = 180;
/** ms the challenger shadows before its backtest: by then the reviewer has judged a few incidents */
const BACKTEST_AFTER_MS = 45_000;
/** incidents the archive must hold before a backtest says anything */
const BACKTEST_MIN_INCIDENTS = 5;
/** frames of agreement before the first shadow line, and ms between two */
const SHADOW_LOG_FRAMES = 30;
const SHADOW_LOG_MS = 30_000;
/**
 * The hub keeps telemetry history as one point a minute, and the latency and frame-rate gates
 * compare whole minutes after the wave opened with those before: a 30 s bake would wait for
 * them for minutes. The demo leaves them out, and its rollout line says so.
 */
const OFF: GateName[] = ["latency", "frame_rate"];
const OFF_WHY =
  "latency and frame_rate off: the hub's telemetry history is one point a minute, too coarse for the bake";

/**
 * The demo's release manager. Once the first model runs, it pushes a challenger as a candidate,
 * rolls it out in shadow (canary, then waves) so its agreement with the champion accumulates,
 * and backtests it on the archived incident frames. With the project's autoDeploy off, every
 * approved version newer than what the fleet runs goes out as a staged `deploy` rollout. It logs
 * each rollout's transitions, the shadow agreement and the backtest's result as they come.
 */
export class RolloutDriver {
  readonly #o: RolloutDriverOptions;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> | null = null;
  #stopped = false;
  #challenger: { id: string; version: number } | null = null;
  #shadowStartedAt: number | null = null;
  /** "champion|challenger" → frames when last said */
  #shadowSaid = new Map<string, number>();
  #shadowSaidAt = 0;
  #backtest: { id: string; done: boolean } | null = null;
  /** rollout id → "state|waves passed" last logged */
  #seen = new Map<string, string>();
  /** a message said once, not every few seconds */
  #said = new Set<string>();

  constructor(opts: RolloutDriverOptions) {
    this.#o = opts;
  }

  start(): void {
    this.#timer = setInterval(() => this.#kick(), this.#o.intervalMs ?? 3000);
    this.#kick();
  }

  /** No new look from now on; resolves once the look in progress ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#busy;
  }

  /** Waits (at most `ms`) for a backtest still running to end, and says its result. */
  async finishBacktest(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.#backtest && !this.#backtest.done && Date.now() < deadline) {
      await this.#pollBacktest(await this.#versions()).catch(() => undefined);
      if (!this.#backtest.done) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  #kick(): void {
    if (this.#busy || this.#stopped) return;
    this.#busy = this.#tick()
      .catch((err: Error) => this.#once(`  rollouts  ${err instanceof ApiError ? `${err.code}: ` : ""}${err.message}`))
      .finally(() => {
        this.#busy = null;
      });
  }

  async #tick(): Promise<void> {
    const { api, projectId } = this.#o;
    const models = (await api.call(registryRoutes.list, { query: { projectId } })).items;
    const versions = new Map(models.map((m) => [m.id, m.version]));
    const devices = (await api.call(fleetRoutes.list, { query: { projectId } })).items;
    // what the fleet runs: versions a device reports loaded in the pipeline
    const running = new Set(
      devices.flatMap((d) => {
        const p = d.reported?.pipelines.find((x) => x.id === PIPELINE);
        return p?.status === "loaded" && p.bundle ? [p.bundle.modelVersionId] : [];
      }),
    );
    if (running.size === 0) return;
    let rollouts = (await api.call(rolloutRoutes.listRollouts, { query: { projectId } })).items;

    if (this.#shadowStartedAt === null && !this.#stopped) {
      const champion = [...running].map((id) => versions.get(id) ?? 0).sort((a, b) => b - a)[0];
      // pushed once; a shadow rollout that could not be created is tried again at the next look
      this.#challenger ??= await pushChallenger(api, projectId, this.#o.firstModel, this.#o.log);
      const c = this.#challenger;
      versions.set(c.id, c.version);
      const r = await this.#create({ modelVersionId: c.id, mode: "shadow" }, versions);
      this.#shadowStartedAt = Date.now();
      this.#o.log(
        `  shadow    v${c.version} runs beside v${champion} on the same frames and never raises an incident; ` +
          `the agents count how often the two agree`,
      );
      rollouts = [r, ...rollouts];
    }

    // an approved version newer than anything the fleet runs, never rolled out: out it goes, in stages
    const newest = models.filter((m) => m.stage === "approved").sort((a, b) => b.version - a.version)[0];
    const runsMax = Math.max(...[...running].map((id) => versions.get(id) ?? 0));
    if (newest && newest.version > runsMax && !rollouts.some((r) => r.modelVersionId === newest.id)) {
      const live = rollouts.filter(
        (r) => r.pipeline === PIPELINE && (r.state === "planned" || r.state === "running" || r.state === "paused"),
      );
      const blocking = live.filter((r) => r.mode === "deploy" && r.state === "running");
      if (blocking.length > 0) {
        this.#once(
          `  rollout   v${newest.version} is approved; it waits for the rollout of ${vName(versions, blocking[0]!.modelVersionId)} to end`,
        );
      } else {
        // a trial in shadow, or a rollout the hub paused for a person, gives way to an approved
        // version: the demo has no person to decide, and the shadow keeps running where it reached
        for (const r of live) {
          const reason = `superseded by the approved v${newest.version}`;
          const ended = await api.call(rolloutRoutes.abortRollout, { params: { id: r.id }, body: { reason } });
          this.#o.log(`  rollout   ${vName(versions, r.modelVersionId)} ${r.mode}: aborted (${reason})`);
          this.#seen.set(r.id, `${ended.state}|${passed(ended)}`);
          rollouts = rollouts.map((x) => (x.id === ended.id ? ended : x));
        }
        this.#o.log(
          `  rollout   v${newest.version} is approved and newer than what the fleet runs; autoDeploy is off, so it goes out in stages`,
        );
        rollouts = [await this.#create({ modelVersionId: newest.id, mode: "deploy" }, versions), ...rollouts];
      }
    }

    for (const r of rollouts) this.#transitions(r, versions);
    await this.#shadowAgreement(versions);
    await this.#maybeBacktest(versions);
  }

  async #versions(): Promise<Map<string, number>> {
    const { items } = await this.#o.api.call(registryRoutes.list, { query: { projectId: this.#o.projectId } });
    return new Map(items.map((m) => [m.id, m.version]));
  }

  async #create(body: Pick<CreateRollout, "modelVersionId" | "mode">, versions: VersionNames): Promise<Rollout> {
    const deploy = body.mode === "deploy";
    const r = await this.#o.api.call(rolloutRoutes.createRollout, {
      body: {
        ...body,
        pipeline: PIPELINE,
        target: { deviceIds: [], tags: [this.#o.tag] },
        strategy: {
          canaryDeviceIds: [this.#o.canary],
          factor: 2,
          bakeSeconds: this.#o.bakeSeconds ?? BAKE_SECONDS,
          evidenceTimeoutSeconds: EVIDENCE_TIMEOUT_SECONDS,
        },
        // the false-alarm gate waits for the reviewer's word on a few of the wave's incidents
        gates: {
          minFrames: this.#o.minFrames ?? MIN_FRAMES,
          minVerdicts: deploy && this.#o.reviewer ? 3 : 0,
          disabled: OFF,
        },
      },
    });
    this.#seen.set(r.id, `${r.state}|${passed(r)}`);
    const waves = r.waves.map((w) => w.deviceIds.join(", ")).join(" → ");
    const field = deploy
      ? `incident_rate, false_alarms${this.#o.reviewer ? " (≥ 3 verdicts)" : ""}`
      : `shadow_agreement (low end of its 95 % interval ≥ ${pct(r.gates.minShadowAgreement)})`;
    this.#o.log(
      `  rollout   ${vName(versions, r.modelVersionId)} ${r.mode} ${deploy ? "over" : "beside"} ` +
        `${vName(versions, r.championModelVersionId)} to ${this.#o.tag}: ${r.id}, waves ${waves} (×${r.strategy.factor}), ` +
        `bake ${r.strategy.bakeSeconds} s, ≥ ${r.gates.minFrames} frames; gates install, restarts, ${field}; ${OFF_WHY}`,
    );
    return r;
  }

  /** Logs what changed in a rollout since the last look: a wave passed, a pause, the end. */
  #transitions(r: Rollout, versions: VersionNames): void {
    const key = `${r.state}|${passed(r)}`;
    const before = this.#seen.get(r.id);
    if (before === key) return;
    this.#seen.set(r.id, key);
    const name = `${vName(versions, r.modelVersionId)} ${r.mode}`;
    const last = r.history.at(-1);
    const [wasState, wasPassed] = (before ?? "planned|0").split("|");
    // every wave passed since the last look, even when several passed between two looks (the
    // last one of a completed rollout is said by its "completed" line)
    const newly = r.waves.filter((w) => w.state === "passed").slice(Number(wasPassed));
    for (const done of newly) {
      const next = r.waves[done.index + 1];
      if (!next && r.state === "completed") continue;
      this.#o.log(
        `  rollout   ${name}: wave ${done.index + 1}/${r.waves.length} passed (${gateWords(done)})` +
          (next ? `; wave ${next.index + 1} (${next.deviceIds.join(", ")}) bakes` : ""),
      );
    }
    if (r.state === wasState) return;
    if (r.state === "completed") {
      const lastWave = r.waves.at(-1);
      this.#o.log(
        `  rollout   ${name}: completed, ${passed(r)}/${r.waves.length} waves passed${lastWave ? ` (${gateWords(lastWave)})` : ""}`,
      );
    } else if (r.state === "paused" || r.state === "rolled_back" || r.state === "aborted") {
      this.#o.log(`  rollout   ${name}: ${r.state.replace("_", " ").toUpperCase()} by ${last?.by ?? "?"}: ${r.reason}`);
    }
  }

  async #shadowAgreement(versions: VersionNames): Promise<void> {
    if (!this.#challenger || Date.now() - this.#shadowSaidAt < SHADOW_LOG_MS) return;
    const { pairs } = await this.#o.api.call(shadowRoutes.agreement, {
      params: { id: this.#challenger.id },
      query: {},
    });
    // a pair is said again only when it counted more frames: a champion the fleet left stays quiet
    const fresh = pairs.filter(
      (p) =>
        p.overall.frames >= SHADOW_LOG_FRAMES &&
        p.overall.frames !== this.#shadowSaid.get(`${p.championModelVersionId}|${p.challengerModelVersionId}`),
    );
    if (fresh.length === 0) return;
    this.#shadowSaidAt = Date.now();
    for (const p of fresh) {
      this.#shadowSaid.set(`${p.championModelVersionId}|${p.challengerModelVersionId}`, p.overall.frames);
      this.#o.log(
        `  ${shadowLine({
          challenger: vName(versions, p.challengerModelVersionId),
          champion: vName(versions, p.championModelVersionId),
          devices: p.devices,
          frames: p.overall.frames,
          agree: p.overall.agree,
          rate: p.overall.rate,
          interval: p.overall.interval,
          captures: p.captures,
        })}`,
      );
    }
  }

  /** Once the challenger shadowed a while and incidents were judged: its backtest, then its result. */
  async #maybeBacktest(versions: VersionNames): Promise<void> {
    const c = this.#challenger;
    if (!c || this.#shadowStartedAt === null) return;
    if (this.#backtest) {
      await this.#pollBacktest(versions);
      return;
    }
    if (Date.now() - this.#shadowStartedAt < (this.#o.backtestAfterMs ?? BACKTEST_AFTER_MS)) return;
    const stats = await this.#o.api.call(systemRoutes.stats);
    if (stats.incidents < BACKTEST_MIN_INCIDENTS || (this.#o.reviewer && stats.verdicts < BACKTEST_MIN_INCIDENTS)) {
      return;
    }
    try {
      const b = await this.#o.api.call(backtestRoutes.create, {
        params: { id: this.#o.projectId },
        body: { modelVersionId: c.id },
      });
      this.#backtest = { id: b.id, done: false };
      this.#o.log(
        `  backtest  ${b.id}: v${c.version} replays the archived incident frames on the hub, against what the ` +
          `champion decided and the reviewer's verdicts`,
      );
    } catch (err) {
      // frames reach the hub a little after their incidents: the next look tries again
      if (err instanceof ApiError && err.code === "KENSA_ERR_BACKTEST_NO_FRAMES") return;
      throw err;
    }
  }

  async #pollBacktest(versions: VersionNames): Promise<void> {
    const t = this.#backtest;
    if (!t || t.done) return;
    const b = await this.#o.api.call(backtestRoutes.get, { params: { id: t.id } });
    if (b.status === "queued" || b.status === "running") return;
    t.done = true;
    this.#o.log(`  ${backtestLine(backtestOf(b, versions))}`);
  }

  #once(line: string): void {
    if (this.#said.has(line)) return;
    this.#said.add(line);
    this.#o.log(line);
  }
}

function passed(r: Rollout): number {
  return r.waves.filter((w) => w.state === "passed").length;
}

/** The wave's field gate in words (agreement or incident rate), else every gate's status. */
function gateWords(w: Rollout["waves"][number]): string {
  const field = w.gates.find((g) => g.gate === "shadow_agreement" || g.gate === "incident_rate");
  if (field) return `${field.gate}: ${field.detail}`;
  return w.gates.map((g) => `${g.gate} ${g.status}`).join(", ") || "passed by a person";
}
