import {
  type CreateSiteRollout,
  federationRoutes,
  type GateName,
  type SiteRollout,
  type SiteRolloutAction,
} from "@kensa/contracts";
import { type Command, Option } from "commander";
import { intFlag } from "../cli-input.js";
import { hubClientFrom } from "../hub-client.js";
import { resolveModel } from "../resolve.js";
import { ago, type Column, printList } from "../table.js";
import { canaryList, defined, gateSwitchFlags, type WaveFlags, waveFlags, waveStrategy } from "./rollout-flags.js";

interface HubFlags {
  hub?: string;
  token?: string;
  json?: boolean;
}

interface CreateFlags extends HubFlags, WaveFlags {
  pipeline: string;
  tag: string[];
  device: string[];
  precision: string;
}

const COMMANDS = {
  pause: { route: federationRoutes.pauseSiteRollout, help: "ask the site to pause a site rollout" },
  resume: { route: federationRoutes.resumeSiteRollout, help: "ask the site to resume a paused site rollout" },
  rollback: {
    route: federationRoutes.rollbackSiteRollout,
    help: "ask the site to roll back a site rollout: the devices it reached return to what they ran before",
  },
} as const;

/**
 * `kensa site rollout <site> <model>`, `kensa site rollout pause|resume|rollback <site> <rollout>`
 * and `kensa site rollouts <site>`, against the central hub: a staged rollout the site runs on
 * its own devices with its own gates (docs/rollouts.md, "Across sites"), the commands central
 * sends it, and the state each one's site last reported.
 */
export function registerSiteRolloutCommands(site: Command, hubOpts: (cmd: Command) => Command): void {
  const rollout = hubOpts(
    gateSwitchFlags(
      waveFlags(
        site
          .command("rollout <site> <model>")
          .description(
            "ask a site to roll an approved model version out to its devices in waves, with the site's gates",
          )
          .option("--pipeline <id>", "pipeline on the devices", "default")
          .option("--tag <tag...>", "the site's devices with this tag (repeatable)", [] as string[])
          .option(
            "--device <id...>",
            "the site's devices by id (repeatable); no --tag/--device: the site's whole project",
          )
          .option("--canary <ids>", "the first wave: these of the site's devices (comma-separated ids)"),
      ).option(
        "--min-verdicts <n>",
        "human verdicts before the false-alarm gate may pass",
        intFlag("--min-verdicts", 0),
      ),
    )
      .addOption(
        new Option("--precision <precision>", "model file per device")
          .choices(["auto", "fp32", "int8"])
          .default("auto"),
      )
      .option("--json", "print the site rollout as JSON"),
  ).action(async (siteId: string, ref: string, o: CreateFlags) => {
    const canary = canaryList(o);
    const client = hubClientFrom(o);
    const model = await resolveModel(client, ref);
    // device ids are the site's: central does not know its devices, so they are not resolved here
    const body: CreateSiteRollout = {
      modelVersionId: model.id,
      pipeline: o.pipeline,
      target: { deviceIds: o.device ?? [], tags: o.tag },
      precision: o.precision as CreateSiteRollout["precision"],
      strategy: waveStrategy(o, canary),
      gates: defined({
        minFrames: o.minFrames,
        minVerdicts: o.minVerdicts,
        autoRollback: o.autoRollback ? undefined : false,
        disabled: o.disableGate.length ? (o.disableGate as GateName[]) : undefined,
      }),
    };
    const r = await client.call(federationRoutes.createSiteRollout, { params: { id: siteId }, body });
    if (o.json) return void console.log(JSON.stringify(r, null, 2));
    console.log(`site rollout ${r.id}: ${model.name}@${model.version} to site ${siteId} (${targetOf(r)}), requested`);
    console.log(`the site starts it on its next sync; follow it with: kensa site rollouts ${siteId}`);
  });

  // subcommands of `site rollout`: commander tries them before the <site> <model> form
  for (const action of Object.keys(COMMANDS) as SiteRolloutAction[]) {
    hubOpts(
      rollout
        .command(`${action} <site> <rollout>`)
        .description(COMMANDS[action].help)
        .option("--reason <text>", "why (kept on central, in the site rollout's history and both audit logs)")
        .option("--json", "print the command as JSON"),
    ).action(async (siteId: string, rolloutId: string, _o: unknown, cmd: Command) => {
      // --hub/--token after the subcommand may be taken by `site rollout`, which has them too
      const o = cmd.optsWithGlobals<HubFlags & { reason?: string }>();
      const c = await hubClientFrom(o).call(COMMANDS[action].route, {
        params: { id: siteId, rolloutId },
        body: o.reason ? { reason: o.reason } : {},
      });
      if (o.json) return void console.log(JSON.stringify(c, null, 2));
      console.log(`command ${c.id}: ${action} site rollout ${rolloutId} on site ${siteId}, pending`);
      console.log(`the site applies it on its next sync; follow it with: kensa site rollouts ${siteId}`);
    });
  }

  hubOpts(
    site
      .command("rollouts <site>")
      .description("the rollouts asked of a site, newest first, with the state, wave and gates the site last reported")
      .option("--json", "print JSON"),
  ).action(async (siteId: string, o: HubFlags) => {
    const { items } = await hubClientFrom(o).call(federationRoutes.listSiteRollouts, { params: { id: siteId } });
    printList(items, siteRolloutColumns(), o, `rollouts for site ${siteId} (kensa site rollout)`);
  });
}

/** `kensa site rollouts`' columns */
export function siteRolloutColumns(now = Date.now()): Column<SiteRollout>[] {
  return [
    { header: "id", value: (r) => r.id },
    { header: "model", value: (r) => r.modelVersionId },
    { header: "target", value: targetOf },
    { header: "state", value: (r) => r.state },
    { header: "wave", value: (r) => (r.waves.length ? `${r.currentWave + 1}/${r.waves.length}` : "-") },
    { header: "gates", value: gatesOf },
    { header: "why", value: (r) => r.error?.code ?? r.reason ?? "" },
    { header: "last command", value: lastCommand },
    { header: "reported", value: (r) => (r.reportedAt ? ago(r.reportedAt, now) : "not yet") },
  ];
}

/** central's latest command and the site's answer: `rollback applied`, `pause refused KENSA_ERR_ROLLOUT_STATE` */
function lastCommand(r: SiteRollout): string {
  const c = r.commands.at(-1);
  return c ? [c.action, c.state, c.error?.code ?? ""].join(" ").trim() : "";
}

function targetOf(r: Pick<SiteRollout, "target">): string {
  const parts = [...r.target.tags.map((t) => `tag ${t}`), ...r.target.deviceIds];
  return parts.length ? parts.join(", ") : "the whole project";
}

/** the current wave's gates as `install:pass restarts:waiting` */
function gatesOf(r: SiteRollout): string {
  const wave = r.waves.find((w) => w.index === r.currentWave);
  return wave?.gates.map((g) => `${g.gate}:${g.status}`).join(" ") ?? "";
}
