import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import {
  type DatasetFormat,
  type DatasetImport,
  datasetRoutes,
  type ImportOptions,
  type Snapshot,
  type SnapshotStats,
} from "@kensa/contracts";
import { type Command, Option } from "commander";
import { intFlag } from "../cli-input.js";
import { parseDuration } from "../duration.js";
import { hubClientFrom } from "../hub-client.js";
import { type ExportFlags, exportDataset } from "./dataset-export.js";
import { tarDirectory } from "./dataset-tar.js";
import { ProgressBar } from "./progress-bar.js";

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
}

const FORMATS = ["imagefolder", "coco", "yolo", "voc", "masks"];

/** `kensa dataset import | export | snapshot | stats | diff | queue` */
export function registerDatasetCommands(program: Command, hubOpts: (cmd: Command) => Command): void {
  const dataset = program.command("dataset").description("dataset samples, imports, exports and snapshots");

  hubOpts(
    dataset
      .command("import")
      .description("import a directory or a .zip/.tar/.tar.gz archive into a project")
      .argument("<path>", "a directory (packed as tar on the fly) or an archive")
      .requiredOption("--project <project>", "project id, slug or name")
      .addOption(new Option("--format <format>", "dataset layout").choices(FORMATS).makeOptionMandatory())
      .option("--root <dir>", "import only this folder of the archive")
      .option("--group-key <rule>", "none | dir | regex:<re> | cluster:<re>:<gap> (see docs/datasets.md)", "none")
      .option("--class-map <pairs>", "rename classes: from=to,from=to")
      .option("--add-classes", "add classes the project lacks instead of failing their items")
      .option(
        "--class-from <rule>",
        "imagefolder: dir (the top folder) | regex:<re> (capture group 1 on the path)",
        "dir",
      )
      .option("--mask-suffix <suffix>", "imagefolder: masks are <stem><suffix>.png beside images ('' = same stem)")
      .option("--mask-class <label>", "masks: the class of masks directly under masks/")
      .option("--annotations <file>", "coco: the annotation JSON inside the archive")
      .option("--strict", "abort the whole import if any item fails")
      .option("--by <who>", "who imports (recorded on every label)", "cli")
      .option("--json", "print the import as JSON"),
  ).action(async (path: string, o: ImportFlags) => {
    const client = hubClientFrom(o);
    const st = await stat(path);
    let body: ReadableStream<Uint8Array>;
    let size: number;
    if (st.isDirectory()) {
      const packed = await tarDirectory(path);
      body = packed.stream;
      size = packed.size;
      if (!o.json) console.error(`packing ${packed.files} files from ${path} as tar (${(size / 1e6).toFixed(1)} MB)`);
    } else {
      body = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
      size = st.size;
    }
    const started = Date.now();
    const upload = new ProgressBar("upload ", "bytes");
    let sent = 0;
    const counted = body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          sent += chunk.byteLength;
          upload.update(sent, size);
          controller.enqueue(chunk);
        },
      }),
    );
    const options: Partial<ImportOptions> & Pick<ImportOptions, "format"> = {
      format: o.format as DatasetFormat,
      root: o.root,
      groupKey: o.groupKey,
      classMap: o.classMap,
      addClasses: o.addClasses,
      classFrom: o.classFrom,
      maskSuffix: o.maskSuffix,
      maskClass: o.maskClass,
      annotations: o.annotations,
      strict: o.strict,
      by: o.by,
    };
    let job = await client.call(datasetRoutes.startImport, {
      params: { id: o.project },
      query: options,
      upload: counted,
      contentType: "application/octet-stream",
    });
    upload.update(size, size, true);
    upload.done();
    const items = new ProgressBar("import ");
    while (job.status === "running") {
      items.update(job.progress.done, job.progress.total);
      await new Promise((r) => setTimeout(r, 250));
      job = await client.call(datasetRoutes.getImport, { params: { id: job.id } });
    }
    items.update(job.progress.total, job.progress.total, true);
    items.done();
    const secs = (Date.now() - started) / 1000;
    if (o.json) console.log(JSON.stringify(job, null, 2));
    else printImport(job, secs);
    if (job.status === "failed") process.exitCode = 1;
    else if ((job.result?.failed.length ?? 0) > 0) process.exitCode = 2;
  });

  hubOpts(
    dataset
      .command("export")
      .description("export a project's labeled samples, or a snapshot, as a .zip or .tar")
      .requiredOption("--project <project>", "project id, slug or name")
      .addOption(new Option("--format <format>", "dataset layout").choices(FORMATS).makeOptionMandatory())
      .option("--snapshot <id>", "export this snapshot instead of the current labels")
      .addOption(new Option("--split <split>", "only this split of the snapshot").choices(["train", "val", "test"]))
      .requiredOption("--out <file>", "the archive to write (.zip, or .tar)")
      .option("--queue", "queue the export as a job (built by the hub or a worker), wait for it, then download it"),
  ).action(async (o: ExportFlags & HubFlags) => exportDataset(hubClientFrom(o), o));

  hubOpts(
    dataset
      .command("snapshot")
      .description("freeze the project's labeled samples into an immutable snapshot with train/val/test splits")
      .requiredOption("--project <project>", "project id, slug or name")
      .option("--name <name>")
      .option("--seed <seed>", "split seed", "kensa")
      .option("--ratios <train,val,test>", "split ratios", "0.7,0.15,0.15")
      .option("--bucket <duration>", "device time bucket that groups near-duplicate frames", "1h")
      .option("--reviewed-only", "only reviewed samples")
      .option("--by <who>", "who snapshots", "cli")
      .option("--json", "print the snapshot as JSON"),
  ).action(async (o: SnapshotFlags) => {
    const [train, val, test] = o.ratios.split(",").map(Number);
    if ([train, val, test].some((v) => v === undefined || !Number.isFinite(v))) {
      throw new Error(`--ratios must be three numbers, e.g. 0.7,0.15,0.15 (got "${o.ratios}")`);
    }
    const snap = await hubClientFrom(o).call(datasetRoutes.createSnapshot, {
      params: { id: o.project },
      body: {
        name: o.name,
        seed: o.seed,
        ratios: { train: train!, val: val!, test: test! },
        groupBucketSec: Math.max(1, Math.round(parseDuration(o.bucket) / 1000)),
        include: o.reviewedOnly ? "reviewed" : "labeled",
        by: o.by,
      },
    });
    if (o.json) return void console.log(JSON.stringify(snap, null, 2));
    console.log(`snapshot ${snap.id}${snap.created ? "" : " (already existed: same samples, labels and parameters)"}`);
    printSnapshot(snap);
  });

  hubOpts(
    dataset
      .command("stats")
      .description("what a project's dataset holds now, or a snapshot's splits per class")
      .option("--project <project>", "project id, slug or name")
      .option("--snapshot <id>", "snapshot id")
      .option("--json"),
  ).action(async (o: { project?: string; snapshot?: string; json?: boolean } & HubFlags) => {
    const client = hubClientFrom(o);
    if (o.snapshot) {
      const snap = await client.call(datasetRoutes.getSnapshot, { params: { id: o.snapshot } });
      return void (o.json ? console.log(JSON.stringify(snap, null, 2)) : printSnapshot(snap));
    }
    if (!o.project) throw new Error("pass --project <id> or --snapshot <id>");
    const s = await client.call(datasetRoutes.stats, { params: { id: o.project } });
    if (o.json) return void console.log(JSON.stringify(s, null, 2));
    console.log(`${s.samples} samples (${s.withoutImage} waiting for their image)`);
    console.log(`  by status  ${fmtCounts(s.byStatus)}`);
    console.log(`  by source  ${fmtCounts(s.bySource)}`);
    console.log(`  by class   ${fmtCounts(s.byClass)}`);
    const snaps = await client.call(datasetRoutes.listSnapshots, { params: { id: o.project } });
    for (const sn of snaps.items.slice(0, 5)) {
      console.log(`  snapshot ${sn.id.slice(0, 12)}  ${sn.sampleCount} samples  ${sn.createdAt}  ${sn.name ?? ""}`);
    }
  });

  hubOpts(
    dataset
      .command("diff")
      .description("what changed between two snapshots: added, removed, relabeled and moved samples")
      .argument("<from>", "snapshot id")
      .argument("<to>", "snapshot id")
      .option("--json"),
  ).action(async (from: string, to: string, o: { json?: boolean } & HubFlags) => {
    const d = await hubClientFrom(o).call(datasetRoutes.diffSnapshots, { params: { id: from, other: to } });
    if (o.json) return void console.log(JSON.stringify(d, null, 2));
    console.log(
      `${from.slice(0, 12)} → ${to.slice(0, 12)}: +${d.added.length} added, -${d.removed.length} removed, ` +
        `${d.relabeled.length} relabeled, ${d.moved.length} moved split, ${d.unchanged} unchanged`,
    );
    const show = (title: string, ids: string[]) => {
      if (ids.length === 0) return;
      console.log(`  ${title}: ${ids.slice(0, 20).join(" ")}${ids.length > 20 ? ` … (${ids.length - 20} more)` : ""}`);
    };
    show("added", d.added);
    show("removed", d.removed);
    show(
      "relabeled",
      d.relabeled.map((r) => r.sampleId),
    );
    show(
      "moved",
      d.moved.map((m) => `${m.sampleId}(${m.from}→${m.to})`),
    );
  });

  hubOpts(
    dataset
      .command("queue")
      .description("the labeling queue: verdicts, uncertain captures, then other unlabeled samples")
      .requiredOption("--project <project>", "project id, slug or name")
      .option("--limit <n>", "items shown per group", intFlag("--limit", 0), 5),
  ).action(async (o: { project: string; limit: number } & HubFlags) => {
    const q = await hubClientFrom(o).call(datasetRoutes.labelingQueue, {
      params: { id: o.project },
      query: { limit: o.limit },
    });
    console.log(`${q.total} samples to label or review`);
    for (const g of q.groups) {
      console.log(`  ${g.key.padEnd(16)} ${String(g.count).padStart(6)}  ${g.description}`);
      for (const s of g.items)
        console.log(`      ${s.id}  ${s.provenance.source}  ${s.provenance.reason ?? s.provenance.item ?? ""}`);
    }
  });
}

interface ImportFlags extends HubFlags {
  project: string;
  format: string;
  root?: string;
  groupKey: string;
  classMap?: string;
  addClasses?: boolean;
  classFrom: string;
  maskSuffix?: string;
  maskClass?: string;
  annotations?: string;
  strict?: boolean;
  by: string;
  json?: boolean;
}

interface SnapshotFlags extends HubFlags {
  project: string;
  name?: string;
  seed: string;
  ratios: string;
  bucket: string;
  reviewedOnly?: boolean;
  by: string;
  json?: boolean;
}

function printImport(job: DatasetImport, secs: number): void {
  if (job.status === "failed" && !job.result) {
    console.log(`import ${job.id} failed: ${job.error?.code}: ${job.error?.message}`);
    return;
  }
  const r = job.result!;
  const rate = secs > 0 ? (r.ok / secs).toFixed(0) : "-";
  console.log(
    `import ${job.id} ${job.status}: ${r.ok} samples (${r.unlabeled} unlabeled), ${r.duplicates.length} duplicates, ` +
      `${r.failed.length} failed, ${r.ignored} other files ignored — ${secs.toFixed(1)} s, ${rate} samples/s`,
  );
  if (job.error) console.log(`  ${job.error.code}: ${job.error.message}`);
  if (r.addedClasses.length > 0) console.log(`  classes added to the project: ${r.addedClasses.join(", ")}`);
  for (const f of r.failed.slice(0, 20)) console.log(`  ✗ ${f.item}  ${f.code}  ${f.message}`);
  if (r.failed.length > 20) console.log(`  … ${r.failed.length - 20} more failures (use --json for all)`);
}

function printSnapshot(s: Snapshot): void {
  console.log(
    `${s.sampleCount} samples in ${s.stats.total.groups} groups · seed "${s.params.seed}" · ratios ` +
      `${s.params.ratios.train}/${s.params.ratios.val}/${s.params.ratios.test} · left out: ${s.excluded.notLabeled} not ${s.params.include}, ${s.excluded.noImage} without image`,
  );
  const classes = [...new Set(Object.keys(s.stats.total.images))].sort();
  const splits: Array<[string, SnapshotStats["total"]]> = [
    ["train", s.stats.splits.train],
    ["val", s.stats.splits.val],
    ["test", s.stats.splits.test],
    ["total", s.stats.total],
  ];
  const w = Math.max(8, ...classes.map((c) => c.length));
  console.log(
    `  ${"split".padEnd(6)} ${"samples".padStart(8)} ${"groups".padStart(7)}  ${classes.map((c) => c.padStart(w)).join(" ")}`,
  );
  for (const [name, c] of splits) {
    const cells = classes.map((cls) => {
      const img = c.images[cls] ?? 0;
      const obj = c.objects[cls] ?? 0;
      return (obj ? `${img}/${obj}` : String(img)).padStart(w);
    });
    console.log(
      `  ${name.padEnd(6)} ${String(c.samples).padStart(8)} ${String(c.groups).padStart(7)}  ${cells.join(" ")}`,
    );
  }
  console.log("  (per class: images, or images/objects when there are boxes or masks)");
}

function fmtCounts(c: Record<string, number>): string {
  const e = Object.entries(c).sort((a, b) => b[1] - a[1]);
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(", ") : "—";
}
