import { writeFile } from "node:fs/promises";
import {
  type DecideReply,
  type EvaluationMetrics,
  type GateEvidence,
  type GateReport,
  type ModelManifest,
  ModelManifest as ModelManifestSchema,
  parseWith,
  type RecipeReason,
  registryRoutes,
  type ShadowAgreementReply,
  shadowRoutes,
} from "@kensa/contracts";
// the subpath: the package root would load the hub and the agent for a model upload
import { uploadModel } from "@kensa/scenario/models";
import type { Command } from "commander";
import { readInputFile, readJsonFile } from "../cli-input.js";
import { hubClientFrom } from "../hub-client.js";
import { resolveModel } from "../resolve.js";
import { ago, printList } from "../table.js";

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
}

/** What became of the deployment an approval starts, in words: never silent. */
function deploymentOutcome(r: DecideReply, asked: boolean, ref: string): string[] {
  const d = r.deployment;
  if (d) {
    const target = [...d.target.tags.map((t) => `tag ${t}`), ...d.target.deviceIds.map((i) => `device ${i}`)];
    return [`deployed to ${target.join(", ")}: deployment ${d.id} → ${d.deviceIds.join(", ")}`];
  }
  if (r.deploymentError) return [`not deployed: ${r.deploymentError.code}: ${r.deploymentError.message}`];
  if (!asked) return ["not deployed (--no-deploy)"];
  return [
    "not deployed: the project has no auto-deploy target;",
    `  deploy with \`kensa deploy ${ref} --tag <tag>\` or set one with \`kensa project update ${r.model.projectId} --auto-deploy-tag <tag>\``,
  ];
}

/** `kensa model push | list | show | approve | reject | archive | card | gate | evaluate | build-blemish` */
export function registerModelCommands(program: Command, hubOpts: (cmd: Command) => Command): void {
  const model = program.command("model").description("model versions: the registry");

  hubOpts(
    model
      .command("push")
      .description("upload an ONNX model with its manifest (checked by ONNX Runtime) as a candidate")
      .argument("<model.onnx>")
      .requiredOption("--manifest <file>", "model manifest (JSON): task, input, preprocessing, labels, …")
      .requiredOption("--project <project>", "project id, slug or name"),
  ).action(async (file: string, o: { manifest: string; project: string } & HubFlags) => {
    const manifest = parseWith(
      ModelManifestSchema,
      await readJsonFile(o.manifest, "model manifest"),
      "KENSA_ERR_MANIFEST_INVALID",
      o.manifest,
    ) as ModelManifest;
    const onnx = await readInputFile(file, "model");
    const v = await uploadModel(hubClientFrom(o), o.project, { onnx, manifest }, file.split("/").pop());
    console.log(`model version ${v.id} (v${v.version}, sha256 ${v.sha256}) stored as ${v.stage}`);
  });

  hubOpts(
    model
      .command("list")
      .description("model versions, newest first")
      .option("--project <project>", "only this project's (id, slug or name)")
      .option("--json", "print JSON"),
  ).action(async (o: { project?: string; json?: boolean } & HubFlags) => {
    const { items } = await hubClientFrom(o).call(registryRoutes.list, { query: { projectId: o.project } });
    printList(
      items,
      [
        { header: "id", value: (v) => v.id },
        { header: "model", value: (v) => `${v.name}@${v.version}` },
        { header: "stage", value: (v) => `${v.stage}${v.champion ? " (champion)" : ""}` },
        { header: "created", value: (v) => ago(v.createdAt) },
        { header: "source", value: (v) => v.source },
        { header: "sha256", value: (v) => v.sha256.slice(0, 12) },
      ],
      o,
      "model versions yet (kensa train, or kensa model push)",
    );
  });

  hubOpts(
    model
      .command("show")
      .description("a model version: lineage, metrics, gate report, approvals")
      .argument("<model>", "id, or <name>@<version>")
      .option("--json", "print JSON (the version and its details)"),
  ).action(async (ref: string, o: HubFlags & { json?: boolean }) => {
    const client = hubClientFrom(o);
    const { id } = await resolveModel(client, ref);
    const [v, d, shadow] = await Promise.all([
      client.call(registryRoutes.get, { params: { id } }),
      client.call(registryRoutes.details, { params: { id } }),
      // a hub from before shadow agreement answers 404 here: the rest still prints
      client.call(shadowRoutes.agreement, { params: { id } }).catch(() => null),
    ]);
    if (o.json) {
      console.log(JSON.stringify({ ...v, details: d, shadowAgreement: shadow }, null, 2));
      return;
    }
    const out = (s = "") => console.log(s);
    out(`${v.name}  (${v.id}, v${v.version})`);
    out(`  stage      ${v.stage}${d.champion ? " — champion (in service)" : ""}`);
    out(`  source     ${v.source}`);
    out(`  sha256     ${v.sha256}${v.int8Sha256 ? `\n  int8       ${v.int8Sha256}` : ""}`);
    out(
      `  task       ${v.manifest.task}, input ${v.manifest.input.width}×${v.manifest.input.height}, labels ${v.manifest.labels.join(", ")}`,
    );
    out(`  created    ${v.createdAt}`);
    out();
    out("lineage");
    if (v.lineage) {
      out(`  snapshot   ${v.lineage.snapshotId}`);
      out(`  run        ${v.lineage.runId}${d.run ? ` (${d.run.trigger.type}: ${d.run.trigger.detail})` : ""}`);
      out(`  trainer    ${v.lineage.trainer}${v.lineage.trainerVersion ? ` — ${v.lineage.trainerVersion}` : ""}`);
      out(`  code       ${v.lineage.codeRevision}`);
      const { recipe, ...params } = v.lineage.params as { recipe?: { reasons?: RecipeReason[] } };
      out(`  params     ${JSON.stringify(params)}`);
      // how the automatic recipe chose each value (docs/training.md, "Automatic recipes")
      for (const x of recipe?.reasons ?? []) out(`  recipe     ${x.key} ${x.value} — ${x.why}`);
      if (d.run?.trainerMetrics) {
        const t = d.run.trainerMetrics;
        out(
          `  trainer's  ${t.primaryMetric} val ${t.val.toFixed(3)}, test ${t.test?.toFixed(3) ?? "—"} (best epoch ${t.bestEpoch}/${t.epochsRun})`,
        );
        // why training ended (docs/training.md, "When training stops"), when the trainer said
        if (t.stopReason) out(`  stopped    ${t.stopReason}`);
      }
    } else out("  uploaded; not trained by Kensa");
    out();
    out("evaluations (hub, ONNX Runtime, test split)");
    if (d.evaluations.length === 0) out("  none yet");
    for (const e of d.evaluations) {
      out(
        `  snapshot ${e.snapshotId.slice(0, 12)}: ${e.status}${e.error ? ` — ${e.error.code}: ${e.error.message}` : ""}`,
      );
      if (e.metrics) for (const l of metricLines(e.metrics)) out(`    ${l}`);
    }
    out();
    out("gate");
    if (d.gate) for (const l of gateLines(d.gate)) out(`  ${l}`);
    else out("  not through the gate yet");
    out();
    out("shadow agreement (on devices, beside a champion)");
    for (const l of shadowLines(shadow)) out(`  ${l}`);
    if (d.approvals.length) {
      out();
      out("approvals");
      for (const a of d.approvals)
        out(`  ${a.createdAt}  ${a.action} by ${a.by} (${a.fromStage} → ${a.toStage}): ${a.reason}`);
    }
  });

  for (const action of ["approve", "reject", "archive"] as const) {
    const cmd = hubOpts(
      model
        .command(action)
        .description(
          action === "approve"
            ? "approve a version: it becomes the project's champion and goes to its autoDeploy targets"
            : action === "reject"
              ? "reject a version (not the champion)"
              : "archive a version (not the champion)",
        )
        .argument("<model>", "id, or <name>@<version>")
        .requiredOption("--reason <text>", "why (recorded with who and when)")
        .option("--by <who>", "who decides", process.env.USER ?? "cli"),
    );
    if (action === "approve") cmd.option("--no-deploy", "do not deploy to the project's autoDeploy targets");
    cmd.action(async (ref: string, o: { reason: string; by: string; deploy?: boolean } & HubFlags) => {
      const client = hubClientFrom(o);
      const r = await client.call(registryRoutes[action], {
        params: { id: (await resolveModel(client, ref)).id },
        body: { by: o.by, reason: o.reason, deploy: o.deploy !== false },
      });
      console.log(`model version ${r.model.id} is ${r.model.stage}${r.model.champion ? " and the champion" : ""}`);
      if (action === "approve") for (const line of deploymentOutcome(r, o.deploy !== false, ref)) console.log(line);
    });
  }

  hubOpts(
    model
      .command("card")
      .description("the model card (Markdown)")
      .argument("<model>", "id, or <name>@<version>")
      .option("--out <file>", "write it to a file"),
  ).action(async (ref: string, o: { out?: string } & HubFlags) => {
    const client = hubClientFrom(o);
    const card = await client.call(registryRoutes.card, { params: { id: (await resolveModel(client, ref)).id } });
    if (o.out) {
      await writeFile(o.out, card);
      console.log(`wrote ${o.out}`);
    } else process.stdout.write(card);
  });

  hubOpts(
    model
      .command("gate")
      .description("put a version (e.g. an uploaded one) through the champion/challenger gate")
      .argument("<model>", "id, or <name>@<version>")
      .option("--snapshot <id>", "evaluation snapshot (default: the project's, else the model's training snapshot)"),
  ).action(async (ref: string, o: { snapshot?: string } & HubFlags) => {
    const client = hubClientFrom(o);
    const { id } = await resolveModel(client, ref);
    const { jobId } = await client.call(registryRoutes.runGate, {
      params: { id },
      body: o.snapshot ? { snapshotId: o.snapshot } : {},
    });
    console.log(`gate queued (job ${jobId}); see kensa model show ${id}`);
  });

  hubOpts(
    model
      .command("evaluate")
      .description("evaluate a version on a snapshot's test split (once per snapshot)")
      .argument("<model>", "id, or <name>@<version>")
      .option("--snapshot <id>", "snapshot (default: the project's evaluation snapshot)"),
  ).action(async (ref: string, o: { snapshot?: string } & HubFlags) => {
    const client = hubClientFrom(o);
    const { id } = await resolveModel(client, ref);
    const e = await client.call(registryRoutes.evaluate, {
      params: { id },
      body: o.snapshot ? { snapshotId: o.snapshot } : {},
    });
    console.log(`evaluation ${e.id} on ${e.snapshotId.slice(0, 12)}: ${e.status}`);
    if (e.metrics) for (const l of metricLines(e.metrics)) console.log(`  ${l}`);
  });

  model
    .command("build-blemish")
    .description("write Kensa's hand-built first model (a real ONNX CNN) and its manifest")
    .option("--out <prefix>", "output prefix", "blemish")
    .action(async (o: { out: string }) => {
      const { buildBlemishModel } = await import("@kensa/vision/graph");
      const m = buildBlemishModel();
      await writeFile(`${o.out}.onnx`, m.onnx);
      await writeFile(`${o.out}.manifest.json`, `${JSON.stringify(m.manifest, null, 2)}\n`);
      console.log(`wrote ${o.out}.onnx and ${o.out}.manifest.json`);
    });
}

function metricLines(m: EvaluationMetrics): string[] {
  const f = (v: number) => v.toFixed(3);
  const lines = [
    `${m.samples} images: ${Object.entries(m.values)
      .map(([k, v]) => `${k} ${f(v)}`)
      .join(", ")}; latency p50 ${m.latency.p50.toFixed(1)} ms, p95 ${m.latency.p95.toFixed(1)} ms`,
  ];
  if (m.int8) {
    lines.push(
      `int8: ${Object.entries(m.int8.values)
        .map(([k, v]) => `${k} ${f(v)}`)
        .join(", ")}; p95 ${m.int8.latency.p95.toFixed(1)} ms`,
    );
  }
  if (m.classification) {
    const c = m.classification;
    for (const [l, v] of Object.entries(c.perClass)) {
      lines.push(`${l.padEnd(12)} P ${f(v.precision)}  R ${f(v.recall)}  F1 ${f(v.f1)}  (${v.support})`);
    }
    lines.push(`confusion (rows truth): ${c.confusion.map((r) => `[${r.join(" ")}]`).join(" ")}`);
  }
  if (m.segmentation) {
    for (const [l, v] of Object.entries(m.segmentation.perClass))
      lines.push(`${l.padEnd(12)} IoU ${f(v.iou)}  Dice ${f(v.dice)}`);
  }
  if (m.detection) {
    for (const [l, v] of Object.entries(m.detection.perClass)) {
      lines.push(`${l.padEnd(12)} AP50 ${f(v.ap50)}  AP50-95 ${f(v.ap50_95)}  (${v.truths} boxes)`);
    }
  }
  return lines;
}

function gateLines(g: GateReport): string[] {
  const fmt = (v: number | null) => (v === null ? "—" : Number.isInteger(v) ? String(v) : v.toFixed(3));
  return [
    `${g.decision.replace("_", " ")} — ${g.reason}`,
    `champion ${g.championId ?? "none (first model)"}, snapshot ${g.snapshotId.slice(0, 12)}${g.deploymentId ? `, deployed ${g.deploymentId}` : ""}`,
    ...g.results.map(
      (r) =>
        `${r.pass ? "pass" : "FAIL"}${r.hard ? " (hard)" : ""}  ${r.description}: threshold ${fmt(r.threshold)}, champion ${fmt(r.champion)}, challenger ${fmt(r.challenger)}${r.note ? ` — ${r.note}` : ""}`,
    ),
    ...(g.evidence ? evidenceLines(g.evidence) : []),
  ];
}

/** One line per champion this model ran beside in shadow mode (docs/agent.md, "Shadow mode"). */
function shadowLines(r: ShadowAgreementReply | null): string[] {
  if (!r) return ["unavailable (the hub does not report it)"];
  if (r.pairs.length === 0) return ["not run in shadow yet"];
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return r.pairs.map((p) => {
    const o = p.overall;
    const rate = o.rate === null ? "no frames" : `${pct(o.rate)} [${pct(o.interval[0])}, ${pct(o.interval[1])}]`;
    const delta = p.scoreDelta.mean === null ? "" : `, score delta mean ${p.scoreDelta.mean.toFixed(3)}`;
    const iou = p.iou ? `, IoU ${p.iou.mean.toFixed(3)}` : "";
    const devices = `${p.devices} device${p.devices === 1 ? "" : "s"}`;
    return `beside ${p.championModelVersionId}: agrees on ${rate} of ${o.frames} frames (95 % Wilson) on ${devices}${delta}${iou}, ${p.captures} disagreements captured`;
  });
}

/** The gate's evidence on the primary metric: intervals, the paired difference, the test, the power note. */
function evidenceLines(e: GateEvidence): string[] {
  const f = (v: number) => v.toFixed(3);
  const iv = (i: { value: number; low: number; high: number }) => `${f(i.value)} [${f(i.low)}, ${f(i.high)}]`;
  const level = `${Math.round(e.confidence * 100)} %`;
  const lines = [`evidence on ${e.metric}, ${e.samples} test samples, ${level} intervals:`];
  lines.push(`  challenger ${iv(e.challenger)} (${e.challenger.method})`);
  if (e.champion) lines.push(`  champion   ${iv(e.champion)} (${e.champion.method})`);
  if (e.difference) {
    lines.push(`  difference ${iv(e.difference)} (paired bootstrap, ${e.difference.resamples} resamples)`);
  }
  if (e.identical) lines.push("  the two models agree on every test sample");
  if (e.test) {
    const split =
      e.test.challengerOnly !== undefined
        ? ` (only the challenger right on ${e.test.challengerOnly}, only the champion on ${e.test.championOnly})`
        : "";
    lines.push(`  ${e.test.name.replace("_", " ")} p = ${e.test.pValue.toPrecision(3)}${split}`);
  }
  if (e.power) lines.push(`  ${e.power.note}`);
  if (e.note) lines.push(`  ${e.note}`);
  return lines;
}
