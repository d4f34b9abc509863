import { setTimeout as sleep } from "node:timers/promises";
import { ApiError } from "@kensa/client";
import { type Rollout, registryRoutes, rolloutRoutes } from "@kensa/contracts";
import { type Command, Option } from "commander";
import { hubClientFrom } from "../hub-client.js";
import { formatRollout, modelLabels, progressLine, secondsFlag } from "./rollout-format.js";

interface WatchFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
  interval: number;
  json?: boolean;
}

/** Exit code of `kensa rollout watch` when the rollout ends without completing (paused, rolled back, aborted). */
export const ROLLOUT_STOPPED_EXIT = 3;

/** looks in a row the hub may fail to answer before watch gives up (a restart of the hub, a network blip) */
const MAX_MISSES = 5;

/** still going: watch keeps looking (a planned rollout waits for someone to start it) */
const watching = (r: Rollout) => r.state === "running" || r.state === "planned";

/**
 * `kensa rollout watch <id>`: `show` again every few seconds until the rollout leaves running.
 * On a terminal the screen is redrawn; on a pipe (a CI log) the rollout is printed once, then one
 * line each time its state, wave or a gate's status changes, then the whole rollout at the end.
 */
export function registerRolloutWatch(rollout: Command, hubOpts: (cmd: Command) => Command): void {
  hubOpts(
    rollout
      .command("watch")
      .description(
        `follow a rollout until it leaves running (exit 0: completed, ${ROLLOUT_STOPPED_EXIT}: paused, rolled back or aborted)`,
      )
      .argument("<id>", "rollout id")
      .addOption(
        new Option("--interval <duration>", "time between looks (e.g. 5s, 1m)")
          .argParser(secondsFlag("--interval", 1, 3600))
          .default(5, "5s"),
      )
      .option("--json", "print only the rollout as JSON once it ends")
      .addHelpText(
        "after",
        `
Exit codes, for CI pipelines:
  0  the rollout completed: every wave passed its gates (or was promoted)
  ${ROLLOUT_STOPPED_EXIT}  it paused (a gate breached, evidence timed out, or a person paused it),
     was rolled back or aborted; \`kensa rollout show <id>\` says why
  1  the hub refused or could not be reached (${MAX_MISSES} looks in a row), or the id is unknown
A planned rollout is watched until someone starts it (kensa rollout resume <id>).`,
      ),
  ).action(async (id: string, o: WatchFlags) => {
    const client = hubClientFrom(o);
    const get = () => client.call(rolloutRoutes.getRollout, { params: { id } });
    let r = await get();
    const labels = modelLabels(o.json ? [] : (await client.call(registryRoutes.list, { query: {} })).items);
    const tty = process.stdout.isTTY && !o.json;
    const stamp = () => new Date().toISOString().slice(11, 19);
    let last = "";
    if (!tty && !o.json) console.log(formatRollout(r, labels));
    for (;;) {
      if (tty) {
        // clear the screen and redraw: a live view of `show`
        process.stdout.write(`\x1b[2J\x1b[H${formatRollout(r, labels)}\n\n`);
        process.stdout.write(`${stamp()}: every ${o.interval}s; Ctrl-C stops watching, not the rollout\n`);
      } else if (!o.json) {
        const line = progressLine(r);
        if (line !== last) console.log(`${stamp()} ${line}`);
        last = line;
      }
      if (!watching(r)) break;
      await sleep(o.interval * 1000);
      r = await again(get);
    }
    if (o.json) console.log(JSON.stringify(r, null, 2));
    else if (!tty) console.log(`\n${formatRollout(r, labels)}`);
    if (r.state !== "completed") {
      console.error(`rollout ${r.id} ${r.state.replace("_", " ")}${r.reason ? `: ${r.reason}` : ""}`);
      process.exitCode = ROLLOUT_STOPPED_EXIT;
    }
  });
}

/** The rollout, trying again while the hub cannot be reached (it may be restarting); other errors at once. */
async function again(get: () => Promise<Rollout>): Promise<Rollout> {
  for (let miss = 1; ; miss++) {
    try {
      return await get();
    } catch (err) {
      const unreachable = err instanceof ApiError && (err.code === "KENSA_ERR_NETWORK" || err.status >= 502);
      if (!unreachable || miss >= MAX_MISSES) throw err;
      console.error(`the hub did not answer (${(err as Error).message}); trying again (${miss}/${MAX_MISSES})`);
      await sleep(2000 * miss);
    }
  }
}
