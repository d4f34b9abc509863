import { type RunStatus, type TrainingRun, trainingRoutes } from "@kensa/contracts";
import { type Command, Option } from "commander";
import { intFlag } from "../cli-input.js";
import { hubClientFrom } from "../hub-client.js";
import { ago, type Column, printList, printRecord } from "../table.js";

interface RunFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
  project?: string;
  status?: RunStatus;
  limit: number;
  json?: boolean;
  follow?: boolean;
  by: string;
}

const DONE = ["succeeded", "failed", "cancelled"];

/** `kensa run list | show | logs | cancel`: training runs, also those started with `kensa train --no-wait`. */
export function registerRunCommands(program: Command, hubOpts: (cmd: Command) => Command): void {
  const run = program.command("run").description("training runs: list, show, logs, cancel");

  hubOpts(
    run
      .command("list")
      .description("training runs, newest first")
      .option("--project <project>", "only this project's (id, slug or name)")
      .addOption(
        new Option("--status <status>", "only runs in this state").choices([
          "queued",
          "running",
          "succeeded",
          "failed",
          "cancelled",
        ]),
      )
      .option("--limit <n>", "at most this many", intFlag("--limit", 1, 1000), 20)
      .option("--json", "print JSON"),
  ).action(async (o: RunFlags) => {
    const { items } = await hubClientFrom(o).call(trainingRoutes.list, {
      query: { projectId: o.project, status: o.status, limit: o.limit },
    });
    printList(items, runColumns, o, "training runs yet (kensa train)");
  });

  hubOpts(
    run
      .command("show")
      .description("one run: status, progress, data, metrics, its model version")
      .argument("<id>", "run id")
      .option("--json", "print JSON"),
  ).action(async (id: string, o: RunFlags) => {
    const r = await hubClientFrom(o).call(trainingRoutes.get, { params: { id } });
    const p = r.progress;
    printRecord(
      r,
      [
        ["id", r.id],
        ["project", r.projectId],
        ["status", r.status],
        ["trigger", `${r.trigger.type}: ${r.trigger.detail}`],
        ["by", r.by],
        ["trainer", `${r.trainer.name}${r.trainer.version ? ` (${r.trainer.version})` : ""}`],
        ["snapshot", r.snapshotId],
        ["params", JSON.stringify({ ...r.params, recipe: undefined })],
        ["budget", r.params.budgetSec ? `${r.params.budgetSec} s of trainer wall time` : null],
        // how the automatic recipe chose each value (docs/training.md, "Automatic recipes")
        ...(r.params.recipe?.reasons ?? []).map((x): [string, string] => [`recipe ${x.key}`, `${x.value} — ${x.why}`]),
        ["progress", p ? `epoch ${p.epoch}/${p.epochs}, ${(p.fraction * 100).toFixed(0)}%` : null],
        ["data", r.data ? `${r.data.train} train, ${r.data.val} val, ${r.data.test} test` : null],
        [
          "metrics",
          r.trainerMetrics
            ? `${r.trainerMetrics.primaryMetric} val ${r.trainerMetrics.val.toFixed(3)}${r.trainerMetrics.test !== null ? `, test ${r.trainerMetrics.test.toFixed(3)}` : ""}`
            : null,
        ],
        ["stopped", r.trainerMetrics?.stopReason ?? null],
        ["model", r.modelVersionId],
        ["error", r.error ? `${r.error.code}: ${r.error.message}` : null],
        ["created", r.createdAt],
        ["started", r.startedAt],
        ["finished", r.finishedAt],
      ],
      o,
    );
  });

  hubOpts(
    run
      .command("logs")
      .description("a run's trainer log")
      .argument("<id>", "run id")
      .option("-f, --follow", "keep printing new lines until the run ends"),
  ).action(async (id: string, o: RunFlags) => {
    const client = hubClientFrom(o);
    let printed = 0;
    for (;;) {
      const [text, r] = await Promise.all([
        client.call(trainingRoutes.log, { params: { id } }),
        client.call(trainingRoutes.get, { params: { id } }),
      ]);
      if (text.length > printed) process.stdout.write(text.slice(printed));
      printed = Math.max(printed, text.length);
      if (!o.follow || DONE.includes(r.status)) {
        if (o.follow) console.error(`run ${r.id} ${r.status}`);
        return;
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
  });

  hubOpts(
    run
      .command("cancel")
      .description("cancel a queued or running run")
      .argument("<id>", "run id")
      .option("--by <who>", "who cancels", process.env.USER ?? "cli"),
  ).action(async (id: string, o: RunFlags) => {
    const r = await hubClientFrom(o).call(trainingRoutes.cancel, { params: { id }, body: { by: o.by } });
    console.log(`run ${r.id} ${r.status}`);
  });
}

const runColumns: Column<TrainingRun>[] = [
  { header: "id", value: (r) => r.id },
  { header: "status", value: (r) => r.status },
  {
    header: "progress",
    value: (r) => (r.progress && r.status === "running" ? `${r.progress.epoch}/${r.progress.epochs}` : null),
  },
  { header: "created", value: (r) => ago(r.createdAt) },
  { header: "trigger", value: (r) => r.trigger.type },
  { header: "model", value: (r) => r.modelVersionId },
  { header: "error", value: (r) => r.error?.code },
  { header: "project", value: (r) => r.projectId },
];
