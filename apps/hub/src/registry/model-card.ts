import type { Approval, Evaluation, GateReport, ModelVersion, Project, Snapshot, TrainingRun } from "@kensa/contracts";

export interface ModelCardInput {
  model: ModelVersion;
  project: Pick<Project, "slug" | "name" | "task" | "labels" | "okLabels">;
  run: TrainingRun | null;
  /** the snapshot it was trained on */
  trainSnapshot: Snapshot | null;
  /** the evaluation on the gate's snapshot (else the latest succeeded one) */
  evaluation: Evaluation | null;
  evaluationSnapshot: Snapshot | null;
  gate: GateReport | null;
  approvals: Approval[];
}

const f = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || Number.isNaN(v) ? "—" : v.toFixed(digits);

/**
 * A model card in Markdown (after Mitchell et al., "Model Cards for Model Reporting"):
 * intended use, data, training parameters, metrics on the evaluation snapshot, the gate
 * report, approvals and limitations — generated from the registry, never edited by hand.
 */
export function modelCard(c: ModelCardInput): string {
  const { model, project, run } = c;
  const m = model.manifest;
  const out: string[] = [];
  const line = (s = "") => out.push(s);
  line(`# Model card: ${model.name}`);
  line();
  line(`| | |`);
  line(`|---|---|`);
  line(`| model version | \`${model.id}\` (v${model.version}) |`);
  line(`| project | ${project.name} (\`${project.slug}\`) |`);
  line(`| stage | ${model.stage}${model.champion ? " — **champion** (in service)" : ""} |`);
  line(`| sha256 | \`${model.sha256}\` (${model.size} bytes) |`);
  line(`| source | ${model.source} |`);
  line(`| created | ${model.createdAt} |`);
  if (model.int8Sha256) line(`| int8 variant | \`${model.int8Sha256}\` |`);
  line();
  line(`## Intended use`);
  line();
  line(
    `${cap(m.task)} of ${project.name} images on edge devices: labels ${m.labels.map((l) => `\`${l}\``).join(", ")}` +
      `${m.okLabels.length ? `, of which ${m.okLabels.map((l) => `\`${l}\``).join(", ")} ${m.okLabels.length === 1 ? "means" : "mean"} nothing is wrong` : ""}. ` +
      `Input ${m.input.width}×${m.input.height} px, ${m.input.channels} channel(s), resized by "${m.preprocessing.resize}". ` +
      `A finding is a non-OK label scoring at least ${m.thresholds.default}` +
      `${Object.keys(m.thresholds.perClass).length ? " (per-class thresholds apply)" : ""}. ` +
      `It flags images for people to review; it is not meant to decide alone where a miss is costly.`,
  );
  line();
  line(`## Data`);
  line();
  if (c.trainSnapshot) {
    line(`Trained on snapshot \`${c.trainSnapshot.id}\`${c.trainSnapshot.name ? ` (${c.trainSnapshot.name})` : ""}.`);
    line();
    line(splitTable(c.trainSnapshot, project.labels));
  } else {
    line(`Brought in (${model.source}); the data it was trained on is not known to Kensa.`);
  }
  if (run?.data) {
    line();
    line(
      `The trainer received ${run.data.train} train, ${run.data.val} val and ${run.data.test} test images` +
        `${run.data.skipped.length ? `; ${run.data.skipped.length} were left out (their label did not fit the task)` : ""}.`,
    );
  }
  line();
  line(`## Training`);
  line();
  if (run) {
    line(`| | |`);
    line(`|---|---|`);
    line(`| run | \`${run.id}\` (${run.trigger.type}: ${run.trigger.detail}) |`);
    line(`| trainer | ${run.trainer.name}${run.trainer.version ? ` — ${run.trainer.version}` : ""} |`);
    line(`| code revision | \`${run.codeRevision}\` |`);
    line(`| input | ${run.params.input.width}×${run.params.input.height}×${run.params.input.channels} |`);
    line(`| hyper-parameters | \`${JSON.stringify(run.params.hyper)}\` |`);
    line(`| seed | ${run.params.seed} |`);
    if (run.params.budgetSec) line(`| time budget | ${run.params.budgetSec} s of trainer wall time |`);
    if (run.trainerMetrics) {
      const t = run.trainerMetrics;
      line(
        `| trainer's own ${t.primaryMetric} | val ${f(t.val)}, test ${f(t.test)} (best epoch ${t.bestEpoch} of ${t.epochsRun}) |`,
      );
      // why training ended where it did (docs/training.md, "When training stops"); absent
      // from runs of trainers that do not report it
      if (t.stopReason) line(`| why training stopped | ${t.stopReason.replaceAll("|", "\\|")} |`);
    }
    line(`| started / finished | ${run.startedAt ?? "—"} / ${run.finishedAt ?? "—"} |`);
    // how each value was chosen (docs/training.md, "Automatic recipes"); absent on older runs
    const reasons = run.params.recipe?.reasons ?? [];
    if (reasons.length) {
      line();
      line(`How the recipe was chosen:`);
      line();
      line(`| parameter | value | why |`);
      line(`|---|---|---|`);
      const cell = (s: string) => s.replaceAll("|", "\\|");
      for (const r of reasons) line(`| ${r.key} | ${cell(r.value)} | ${cell(r.why)} |`);
    }
  } else {
    line(`Not trained by Kensa.`);
  }
  line();
  line(`## Metrics`);
  line();
  const e = c.evaluation;
  if (e?.metrics) {
    const em = e.metrics;
    line(
      `Measured by the hub with ONNX Runtime on the test split of snapshot \`${e.snapshotId}\` (${em.samples} images).`,
    );
    line();
    line(`| metric | value |`);
    line(`|---|---|`);
    for (const [k, v] of Object.entries(em.values)) line(`| ${metricName(k)} | ${f(v)} |`);
    line(`| latency p50 / p95 | ${f(em.latency.p50, 1)} / ${f(em.latency.p95, 1)} ms |`);
    if (em.int8) {
      for (const [k, v] of Object.entries(em.int8.values)) line(`| int8 ${metricName(k)} | ${f(v)} |`);
      line(`| int8 latency p50 / p95 | ${f(em.int8.latency.p50, 1)} / ${f(em.int8.latency.p95, 1)} ms |`);
    }
    if (em.classification) {
      const cm = em.classification;
      line();
      line(`| class | precision | recall | F1 | support |`);
      line(`|---|---|---|---|---|`);
      for (const [l, v] of Object.entries(cm.perClass)) {
        line(`| ${l} | ${f(v.precision)} | ${f(v.recall)} | ${f(v.f1)} | ${v.support} |`);
      }
      line();
      line(`Confusion matrix (rows: truth, columns: prediction):`);
      line();
      line(`| | ${cm.labels.join(" | ")} |`);
      line(`|---|${cm.labels.map(() => "---").join("|")}|`);
      for (const [i, row] of cm.confusion.entries()) line(`| **${cm.labels[i]}** | ${row.join(" | ")} |`);
    }
    if (em.segmentation) {
      line();
      line(`| class | IoU | Dice | pixels |`);
      line(`|---|---|---|---|`);
      for (const [l, v] of Object.entries(em.segmentation.perClass)) {
        line(`| ${l} | ${f(v.iou)} | ${f(v.dice)} | ${v.pixels} |`);
      }
      line(`| defect vs background | ${f(em.segmentation.defect.iou)} | ${f(em.segmentation.defect.dice)} | |`);
    }
    if (em.detection) {
      line();
      line(`| class | AP@0.5 | AP@0.5:0.95 | truths |`);
      line(`|---|---|---|---|`);
      for (const [l, v] of Object.entries(em.detection.perClass)) {
        line(`| ${l} | ${f(v.ap50)} | ${f(v.ap50_95)} | ${v.truths} |`);
      }
    }
  } else {
    line(e ? `The evaluation is ${e.status}${e.error ? `: ${e.error.message}` : ""}.` : `Not evaluated yet.`);
  }
  line();
  line(`## Gate`);
  line();
  if (c.gate) {
    const g = c.gate;
    line(
      `Decision: **${g.decision.replace("_", " ")}** — ${g.reason}. ` +
        `Champion at the time: ${g.championId ? `\`${g.championId}\`` : "none (first model)"}; ` +
        `snapshot \`${g.snapshotId}\`.`,
    );
    line();
    line(`| criterion | hard | threshold | champion | challenger | result |`);
    line(`|---|---|---|---|---|---|`);
    for (const r of g.results) {
      line(
        `| ${r.description}${r.note ? ` (${r.note})` : ""} | ${r.hard ? "yes" : "no"} | ${f(r.threshold)} | ${f(r.champion)} | ${f(r.challenger)} | ${r.pass ? "pass" : "**fail**"} |`,
      );
    }
    const ev = g.evidence;
    if (ev) {
      const pct = `${Math.round(ev.confidence * 1000) / 10} %`;
      const iv = (m: { value: number; low: number; high: number; method: string }) =>
        `${f(m.value)} (${pct} interval ${f(m.low)} to ${f(m.high)}, ${m.method.replace("_", " ")})`;
      line();
      line(`Evidence on ${ev.samples} test samples (${ev.metric}):`);
      line();
      line(`- challenger ${iv(ev.challenger)}`);
      if (ev.champion) line(`- champion ${iv(ev.champion)}`);
      if (ev.difference)
        line(`- difference challenger − champion ${iv(ev.difference)}, ${ev.difference.resamples} resamples`);
      if (ev.test)
        line(
          `- ${ev.test.name.replace("_", " ")} test: p ${ev.test.pValue < 1e-4 ? "< 0.0001" : `= ${ev.test.pValue.toPrecision(3)}`}`,
        );
      if (ev.power) line(`- ${ev.power.note}`);
    }
  } else {
    line(`Not through the gate yet.`);
  }
  if (c.approvals.length) {
    line();
    line(`Approvals:`);
    line();
    for (const a of c.approvals)
      line(`- ${a.createdAt}: ${a.action} by ${a.by} (${a.fromStage} → ${a.toStage}): ${a.reason}`);
  }
  line();
  line(`## Limitations`);
  line();
  const n = c.evaluation?.metrics?.samples ?? 0;
  line(
    `- Metrics come from ${n} test image${n === 1 ? "" : "s"}${n < 100 ? "; with so few, a difference of a few points is noise" : ""}.`,
  );
  line(
    `- The test split is drawn from the same cameras and period as the training data (by group, never the same group); new lighting, parts or cameras can lower accuracy without warning.`,
  );
  line(`- Labels from verdicts carry the reviewers' errors; classes with few examples are learned least well.`);
  line(`- Latency was measured on the hub, one ONNX Runtime thread, one image at a time; an edge device differs.`);
  if (m.task === "segmentation")
    line(`- IoU is measured at the model's output resolution; thin defects lose pixels there.`);
  line();
  return out.join("\n");
}

/** `metrics.values` keys as people read them (headline-values.ts names them). */
const METRIC_NAMES: Record<string, string> = {
  accuracy: "accuracy",
  balanced_accuracy: "balanced accuracy",
  f1_macro: "macro-F1",
  auroc: "AUROC",
  miou: "mean IoU",
  mdice: "mean Dice",
  defect_iou: "defect IoU (defect vs background)",
  defect_dice: "defect Dice (defect vs background)",
  map50: "mAP@0.5",
  map50_95: "mAP@0.5:0.95",
};

function metricName(key: string): string {
  const name = METRIC_NAMES[key];
  return name ? `${name} (\`${key}\`)` : key;
}

function splitTable(s: Snapshot, labels: readonly string[]): string {
  const rows = [
    `| split | images | groups | ${labels.join(" | ")} |`,
    `|---|---|---|${labels.map(() => "---").join("|")}|`,
  ];
  for (const name of ["train", "val", "test"] as const) {
    const c = s.stats.splits[name];
    rows.push(`| ${name} | ${c.samples} | ${c.groups} | ${labels.map((l) => c.images[l] ?? 0).join(" | ")} |`);
  }
  return rows.join("\n");
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
