import type { KensaClient } from "@kensa/client";
import {
  type CreateRollout,
  type GateName,
  KensaError,
  type Rollout,
  RolloutState,
  registryRoutes,
  rolloutRoutes,
} from "@kensa/contracts";
import { type Command, Option } from "commander";
import { intFlag, numberFlag } from "../cli-input.js";
import { hubClientFrom } from "../hub-client.js";
import { resolveDevice, resolveModel } from "../resolve.js";
import { printList } from "../table.js";
import { canaryList, defined, gateSwitchFlags, type WaveFlags, waveFlags, waveStrategy } from "./rollout-flags.js";
import { formatRollout, labelOf, type ModelLabels, modelLabels, rolloutColumns, waveOf } from "./rollout-format.js";
import { registerRolloutWatch } from "./rollout-watch.js";

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
}
type HubOpts = (cmd: Command) => Command;

interface CreateFlags extends HubFlags, WaveFlags {
  project?: string;
  pipeline: string;
  tag: string[];
  device: string[];
  shadow?: boolean;
  maxIncidentRatio?: number;
  maxFalseAlarmRatio?: number;
  minAgreement?: number;
  requireBacktest?: boolean;
  maxBacktestMisses?: number;
  precision: string;
  planned?: boolean;
  json?: boolean;
}

/** the literals of a TypeBox union of literals, for commander's `choices` */
const literals = (u: { anyOf: Array<{ const: unknown }> }) => u.anyOf.map((s) => String(s.const));
const STATES = literals(RolloutState);

/** The model versions by id, to show `name@version` rather than ids. */
export async function labelsFrom(client: KensaClient): Promise<ModelLabels> {
  return modelLabels((await client.call(registryRoutes.list, { query: {} })).items);
}

/**
 * `kensa rollout create | list | show | watch | pause | resume | promote | rollback | abort`:
 * staged rollouts (docs/rollouts.md), judged wave by wave on field signals against a control group.
 */
export function registerRolloutCommands(program: Command, hubOpts: HubOpts): void {
  const rollout = program
    .command("rollout")
    .description("staged rollouts: a canary, then growing waves, each gated on field signals against a control group");

  hubOpts(
    gateSwitchFlags(
      waveFlags(
        rollout
          .command("create")
          .description("roll an approved model version out in waves (a candidate may run in --shadow)")
          .argument("<model>", "model version id, or <name>@<version>")
          .option("--project <project>", "the project the model must belong to (id, slug or name)")
          .option("--pipeline <id>", "pipeline on the devices", "default")
          .option("--tag <tag...>", "target devices by tag (repeatable)", [] as string[])
          .option(
            "--device <device...>",
            "target devices by id or name (repeatable); no --tag/--device: the whole project",
          )
          .option(
            "--shadow",
            "run it beside the champion on the same frames, never raising incidents; judged on agreement",
          )
          .option("--canary <devices>", "the first wave: these devices (comma-separated ids or names)"),
      )
        .option(
          "--min-verdicts <n>",
          "human verdicts before the false-alarm gate may pass (0: gate off; default 0)",
          intFlag("--min-verdicts", 0),
        )
        .option(
          "--max-incident-ratio <x>",
          "wave's incident rate at most this × the control's (default 1.5)",
          numberFlag("--max-incident-ratio", { min: 1 }),
        )
        .option(
          "--max-false-alarm-ratio <x>",
          "wave's false alarms at most this × the control's (default 1.5)",
          numberFlag("--max-false-alarm-ratio", { min: 1 }),
        )
        .option(
          "--min-agreement <x>",
          "shadow: lower bound of the agreement's 95 % interval (default 0.9)",
          numberFlag("--min-agreement", { min: 0, max: 1 }),
        )
        .option(
          "--require-backtest",
          "wait for a finished backtest of the version and hold it to the champion on the archive",
        )
        .option(
          "--max-backtest-misses <n>",
          "with --require-backtest: confirmed defects the version may miss beyond the champion's (default 0)",
          intFlag("--max-backtest-misses", 0),
        ),
    )
      .addOption(
        new Option("--precision <precision>", "model file per device: auto ships int8 where the gate allowed it")
          .choices(["auto", "fp32", "int8"])
          .default("auto"),
      )
      .option("--planned", "create it planned; start it later with kensa rollout resume")
      .option("--json", "print the rollout as JSON"),
  ).action(async (ref: string, o: CreateFlags) => {
    const canary = canaryList(o);
    const client = hubClientFrom(o);
    const model = await resolveModel(client, ref);
    if (o.project && model.projectId !== o.project) {
      throw new KensaError(
        "KENSA_ERR_FLAG_INVALID",
        `model ${model.name}@${model.version} belongs to project ${model.projectId}, not to --project ${o.project}`,
      );
    }
    const ids = async (refs: string[]) => {
      const out: string[] = [];
      for (const d of refs) out.push((await resolveDevice(client, d)).id);
      return out;
    };
    const body: CreateRollout = {
      modelVersionId: model.id,
      pipeline: o.pipeline,
      target: { deviceIds: await ids(o.device ?? []), tags: o.tag },
      mode: o.shadow ? "shadow" : "deploy",
      precision: o.precision as CreateRollout["precision"],
      strategy: waveStrategy(o, canary ? await ids(canary) : undefined),
      gates: defined({
        minFrames: o.minFrames,
        minVerdicts: o.minVerdicts,
        maxIncidentRateRatio: o.maxIncidentRatio,
        maxFalseAlarmRatio: o.maxFalseAlarmRatio,
        minShadowAgreement: o.minAgreement,
        requireBacktest: o.requireBacktest,
        maxBacktestMissesAdded: o.maxBacktestMisses,
        autoRollback: o.autoRollback ? undefined : false,
        disabled: o.disableGate.length ? (o.disableGate as GateName[]) : undefined,
      }),
      start: !o.planned,
    };
    const r = await client.call(rolloutRoutes.createRollout, { body });
    if (o.json) return void console.log(JSON.stringify(r, null, 2));
    const labels = await labelsFrom(client);
    const role = r.mode === "shadow" ? "beside" : "replacing";
    console.log(
      `rollout ${r.id} ${r.state}: ${labelOf(labels, r.modelVersionId)} ${role} ${labelOf(labels, r.championModelVersionId)}, ${r.waves.length} wave${r.waves.length === 1 ? "" : "s"}`,
    );
    for (const w of r.waves) console.log(`  wave ${w.index + 1}: ${w.deviceIds.join(", ")} (${w.state})`);
    // the hub sizes the canary by --canary-percent when none of the named devices is in the target
    const outside = (body.strategy?.canaryDeviceIds ?? []).filter((id) => !r.waves[0]?.deviceIds.includes(id));
    if (outside.length)
      console.error(`warning: --canary ${outside.join(", ")} is not in the target; left out of the canary`);
    console.log(
      r.state === "planned"
        ? `start it with: kensa rollout resume ${r.id}`
        : `follow it with: kensa rollout watch ${r.id} (or show ${r.id})`,
    );
  });

  hubOpts(
    rollout
      .command("list")
      .description("rollouts, newest first")
      .option("--project <project>", "only this project's (id, slug or name)")
      .addOption(new Option("--state <state>", "only rollouts in this state").choices(STATES))
      .option("--json", "print JSON"),
  ).action(async (o: HubFlags & { project?: string; state?: string; json?: boolean }) => {
    const client = hubClientFrom(o);
    const query = { projectId: o.project, state: o.state as Rollout["state"] | undefined };
    const [{ items }, labels] = await Promise.all([
      client.call(rolloutRoutes.listRollouts, { query }),
      o.json ? new Map<string, string>() : labelsFrom(client),
    ]);
    printList(items, rolloutColumns(labels), o, "rollouts (kensa rollout create)");
  });

  hubOpts(
    rollout
      .command("show")
      .description(
        "a rollout: its waves, the current wave's gates with their evidence against the control, its history",
      )
      .argument("<id>", "rollout id")
      .option("--json", "print JSON"),
  ).action(async (id: string, o: HubFlags & { json?: boolean }) => {
    const client = hubClientFrom(o);
    const r = await client.call(rolloutRoutes.getRollout, { params: { id } });
    console.log(o.json ? JSON.stringify(r, null, 2) : formatRollout(r, await labelsFrom(client)));
  });

  registerRolloutWatch(rollout, hubOpts);

  const actions = [
    ["pause", rolloutRoutes.pauseRollout, "pause a running rollout; its devices keep what they run"],
    [
      "resume",
      rolloutRoutes.resumeRollout,
      "start a planned rollout or resume a paused one (a wave sent back is deployed and baked again)",
    ],
    ["promote", rolloutRoutes.promoteRollout, "pass the current wave by hand and start the next (the last: complete)"],
    [
      "rollback",
      rolloutRoutes.rollbackRollout,
      "send every device the rollout reached back to what it ran before, and end it",
    ],
    ["abort", rolloutRoutes.abortRollout, "end the rollout where it stands: devices keep what they run"],
  ] as const;
  for (const [verb, route, description] of actions) {
    hubOpts(
      rollout
        .command(verb)
        .description(description)
        .argument("<id>", "rollout id")
        .option("--reason <text>", "why (kept in the rollout's history and the audit log)")
        .option("--json", "print the rollout as JSON"),
    ).action(async (id: string, o: HubFlags & { reason?: string; json?: boolean }) => {
      const r = await hubClientFrom(o).call(route, { params: { id }, body: o.reason ? { reason: o.reason } : {} });
      if (o.json) return void console.log(JSON.stringify(r, null, 2));
      const h = r.history.at(-1);
      const wave = r.waves[r.currentWave];
      console.log(`rollout ${r.id}: ${h?.from ?? "–"} → ${r.state} (${h?.reason ?? ""})`);
      if (wave) console.log(`  wave ${waveOf(r)}: ${wave.deviceIds.join(", ")} ${wave.state}`);
    });
  }
}
