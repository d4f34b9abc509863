import type { FederationStatus, HealthProblem } from "@kensa/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { FederationConfig } from "../config/federation-config.js";
import { UplinkDown } from "./central-client.js";
import { initialStatus } from "./federation-status.js";
import type { SiteDownstream } from "./site-downstream.js";
import type { SiteRolloutCommands } from "./site-rollout-commands.js";
import type { SiteRollouts } from "./site-rollouts.js";
import type { SiteSamples } from "./site-samples.js";
import type { SiteUpstream, UpstreamCounts } from "./site-upstream.js";

/**
 * The site hub's sync loop: push incidents and verdicts, labelled samples, the fleet and field
 * summaries, pull models, pull the rollouts central asked for and its commands to them (pause,
 * resume, rollback), then push those rollouts' states and the commands' answers;
 * every `intervalSeconds`, and after a failure with a doubling wait up to `maxBackoffSeconds`.
 * Nothing else on the site waits for it: devices, incidents, notifications and review go on
 * while the uplink is down, and the streams resume from their cursors.
 */
export class SiteSync {
  #up: SiteUpstream;
  #samples: SiteSamples | null;
  #abort: () => void;
  #down: SiteDownstream;
  #rollouts: SiteRollouts;
  #commands: SiteRolloutCommands;
  #config: FederationConfig;
  #log: FastifyBaseLogger;
  #status: FederationStatus;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = true;
  #failures = 0;
  /** when central first refused part of the sync, in the current run of refusals */
  #refusedSince: string | null = null;

  constructor(deps: {
    up: SiteUpstream;
    /** null when `federation.upstream.samples` is off */
    samples: SiteSamples | null;
    down: SiteDownstream;
    rollouts: SiteRollouts;
    commands: SiteRolloutCommands;
    config: FederationConfig;
    centralUrl: string;
    siteId: string;
    log: FastifyBaseLogger;
    /** aborts requests in flight to central */
    abort: () => void;
  }) {
    this.#abort = deps.abort;
    this.#up = deps.up;
    this.#samples = deps.samples;
    this.#down = deps.down;
    this.#rollouts = deps.rollouts;
    this.#commands = deps.commands;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#status = initialStatus("site", deps.centralUrl, deps.siteId);
  }

  get status(): FederationStatus {
    return structuredClone(this.#status);
  }

  /** for /health: a down uplink degrades the site, never fails it */
  problems(): HealthProblem[] {
    const s = this.#status;
    if (s.uplink === "up" && s.lastError) {
      return [
        {
          code: s.lastError.code,
          message: `federation: central refuses part of the sync: ${s.lastError.message}`,
          since: this.#refusedSince ?? new Date().toISOString(),
        },
      ];
    }
    if (s.uplink !== "down" || !s.downSince) return [];
    return [
      {
        code: "KENSA_ERR_FEDERATION_UPLINK_DOWN",
        message: `federation: degraded (uplink to ${s.centralUrl} down since ${s.downSince}); the site keeps working and syncs when it is back`,
        since: s.downSince,
      },
    ];
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  /** One sync now (tests, `kensa`): resolves when it finished, whatever its outcome. */
  syncNow(): Promise<void> {
    this.#running ??= this.#once().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    // a request hanging on a dead link would otherwise hold the hub's shutdown for timeoutMs
    this.#abort();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.syncNow().then(() => {
        const base = this.#config.intervalSeconds * 1000;
        const wait =
          this.#failures === 0
            ? base
            : Math.min(base * 2 ** Math.min(this.#failures, 20), this.#config.maxBackoffSeconds * 1000);
        this.#schedule(wait);
      });
    }, ms);
    this.#timer.unref();
  }

  async #once(): Promise<void> {
    const counts: UpstreamCounts = { incidents: 0, verdicts: 0, frames: 0 };
    const s = this.#status;
    // the parts are independent: an incident central refuses must not hold back models
    const errors: unknown[] = [];
    const part = async (run: () => Promise<void>) => {
      // once central is unreachable, the rest would only wait for their own timeouts
      if (errors.some((e) => e instanceof UplinkDown)) return;
      await run().catch((err: unknown) => errors.push(err));
    };
    await part(() => this.#up.push(counts));
    // its own part: a refused incident must not hold back the datasets
    const samples = this.#samples;
    if (samples) {
      await part(async () => {
        s.pushed.samples += await samples.push();
      });
    }
    await part(() => this.#up.fleet());
    await part(() => this.#up.field());
    await part(async () => {
      s.pulled.models += await this.#down.pull();
    });
    // after the models: an order's version is then usually here already
    // a command follows its rollout's request: it waits (throws) while the request is missing
    await part(async () => {
      s.pulled.rollouts += await this.#rollouts.pull();
      await this.#commands.pull();
    });
    await part(async () => {
      s.pushed.rollouts += await this.#rollouts.push();
    });
    // after the states: central shows a command applied once it holds the state it led to
    await part(async () => {
      await this.#commands.push();
    });
    s.pushed.incidents += counts.incidents;
    s.pushed.verdicts += counts.verdicts;
    s.pushed.frames += counts.frames;
    const down = errors.find((e) => e instanceof UplinkDown);
    const err = down ?? errors[0];
    if (err === undefined) {
      if (s.uplink === "down") this.#log.info({ downSince: s.downSince }, "federation: uplink to central is back");
      s.uplink = "up";
      s.downSince = null;
      s.lastError = null;
      s.lastSyncAt = new Date().toISOString();
      this.#failures = 0;
      this.#refusedSince = null;
      return;
    }
    this.#failures++;
    const e = err as { code?: string; message?: string };
    s.lastError = {
      code: down ? "KENSA_ERR_FEDERATION_UPLINK_DOWN" : (e.code ?? "KENSA_ERR_INTERNAL"),
      message: e.message ?? String(err),
    };
    if (down) {
      if (s.uplink !== "down") this.#log.warn({ err: e.message }, "federation: uplink to central is down");
      s.uplink = "down";
      s.downSince ??= new Date().toISOString();
      return;
    }
    // central answered: the uplink is up, and the refusal (a project central lacks, a model
    // that does not match the site's project, a rotated token) is shown until it is fixed
    if (s.uplink === "down") this.#log.info({ downSince: s.downSince }, "federation: uplink to central is back");
    s.uplink = "up";
    s.downSince = null;
    this.#refusedSince ??= new Date().toISOString();
    this.#log.error({ err }, "federation: sync refused");
  }
}
