/**
 * Imports the real datasets in ../shared/datasets with the documented CLI commands into a
 * temporary hub, snapshots them and checks the splits for leakage. Skipped when the datasets
 * are absent (they are never committed).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { KensaClient } from "@kensa/client";
import { type DatasetImport, datasetRoutes, projectRoutes, type Snapshot } from "@kensa/contracts";
import { createHub } from "@kensa/hub";
import { startScenarioHub } from "@kensa/scenario";
import { repoRoot, tempDir } from "@kensa/testkit";
import { table } from "./report.js";

export const datasetsRoot = resolve(repoRoot, "..", "shared", "datasets");

interface DatasetCase {
  name: string;
  dir: string;
  project: { slug: string; name: string; task: "detection" | "segmentation"; labels: string[]; okLabels: string[] };
  importArgs: string[];
}

export const realDatasets: DatasetCase[] = [
  {
    name: "NEU-DET",
    dir: "neu_det",
    project: {
      slug: "neu-det",
      name: "NEU-DET",
      task: "detection",
      labels: ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"],
      okLabels: [],
    },
    importArgs: ["--format", "voc"],
  },
  {
    name: "Magnetic tile",
    dir: "magnetic_tile",
    project: {
      slug: "magnetic-tile",
      name: "Magnetic tile",
      task: "segmentation",
      labels: ["MT_Free", "MT_Blowhole", "MT_Break", "MT_Crack", "MT_Fray", "MT_Uneven"],
      okLabels: ["MT_Free"],
    },
    importArgs: ["--format", "imagefolder", "--mask-suffix", "", "--group-key", "cluster:num_(\\d+):60"],
  },
];

/** Runs the kensa CLI as a child process (the hub lives in this process, so never block on it). */
export function kensa(args: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "apps/cli/src/main.ts"), ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    child.once("exit", (code) =>
      code === 0 ? resolveRun(out) : reject(new Error(`kensa ${args.join(" ")} exited ${code}: ${err.slice(-2000)}`)),
    );
  });
}

/** Runs `fn` against a fresh hub in a temporary directory, then closes the hub and removes the directory. */
export async function withBenchHub<T>(fn: (hub: { url: string; token: string; api: KensaClient }) => Promise<T>) {
  const dir = await tempDir("kensa-bench-");
  try {
    const hub = await startScenarioHub({
      createHub,
      dataDir: join(dir.path, "hub"),
    });
    try {
      return await fn({ url: hub.httpUrl, token: hub.adminToken, api: hub.client });
    } finally {
      await hub.close();
    }
  } finally {
    await dir.remove();
  }
}

export async function datasetImportSection() {
  const present = realDatasets.filter((d) => existsSync(join(datasetsRoot, d.dir)));
  if (present.length === 0) return null;
  const results = await withBenchHub(async ({ url, token, api }) => {
    const out = [];
    for (const d of present) {
      const project = await api.call(projectRoutes.create, { body: { ...d.project } });
      const hubArgs = ["--hub", url, "--token", token];
      const started = performance.now();
      const job = JSON.parse(
        await kensa([
          "dataset",
          "import",
          join(datasetsRoot, d.dir),
          ...d.importArgs,
          "--project",
          project.id,
          "--json",
          ...hubArgs,
        ]),
      ) as DatasetImport;
      const seconds = (performance.now() - started) / 1000;
      const snap = JSON.parse(
        await kensa(["dataset", "snapshot", "--project", project.id, "--json", ...hubArgs]),
      ) as Snapshot;
      const manifest = await api.call(datasetRoutes.snapshotManifest, { params: { id: snap.id } });
      const splitsOfGroup = new Map<string, Set<string>>();
      for (const item of manifest.items) {
        const s = splitsOfGroup.get(item.groupKey) ?? new Set<string>();
        s.add(item.split);
        splitsOfGroup.set(item.groupKey, s);
      }
      const leakingGroups = [...splitsOfGroup.values()].filter((s) => s.size > 1).length;
      out.push({
        name: d.name,
        command: `kensa dataset import ../shared/datasets/${d.dir} ${d.importArgs.map((a) => (a === "" || /[()\\]/.test(a) ? `'${a}'` : a)).join(" ")} --project <id>`,
        imported: job.result?.ok ?? 0,
        failed: job.result?.failed.length ?? 0,
        duplicates: job.result?.duplicates.length ?? 0,
        seconds: Math.round(seconds * 10) / 10,
        perSecond: Math.round((job.result?.ok ?? 0) / seconds),
        snapshot: snap.id,
        groups: splitsOfGroup.size,
        splits: {
          train: snap.stats.splits.train.samples,
          val: snap.stats.splits.val.samples,
          test: snap.stats.splits.test.samples,
        },
        leakingGroups,
      });
    }
    return out;
  });
  const markdown = [
    "The real datasets in `../shared/datasets/` imported with the documented commands into an",
    "embedded hub (packing, upload, decode, dedup, SQLite and fsync'd blobs included), then",
    "snapshotted with the default split (seed `kensa`, 0.7/0.15/0.15 by group key). Leaking",
    "groups = groups whose samples fall in more than one split (must be 0).",
    "",
    table(
      [
        "dataset",
        "imported",
        "failed",
        "duplicates",
        "time",
        "samples/s",
        "groups",
        "train/val/test",
        "leaking groups",
      ],
      results.map((r) => [
        r.name,
        r.imported,
        r.failed,
        r.duplicates,
        `${r.seconds} s`,
        r.perSecond,
        r.groups,
        `${r.splits.train}/${r.splits.val}/${r.splits.test}`,
        r.leakingGroups,
      ]),
    ),
    "",
    "Commands:",
    "",
    ...results.map((r) => `- ${r.name}: \`${r.command}\``),
  ].join("\n");
  return { markdown, data: results };
}
