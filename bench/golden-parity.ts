/**
 * Golden-set parity: the agent's self-test (apps/agent/src/updates/self-test.ts) on golden sets
 * the hub's code computes (apps/hub/src/fleet/golden-frames.ts), for a real int8 model against
 * its fp32 original, and for bundles built here (x64) run by an arm64 agent under qemu-user.
 */
import { createHash } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BundleManifest, GoldenSet, ModelManifest, Precision, SelfTestReport } from "@kensa/contracts";
import { renderFrame } from "@kensa/synth";
import { Inferencer } from "@kensa/vision";
import { buildResNet18, buildResNet18Int8, buildUNet, buildUNetInt8 } from "@kensa/vision/graph";
import { runSelfTest } from "../apps/agent/src/updates/self-test.js";
import type { BlobStore } from "../apps/hub/src/blobstore/blob-store.js";
import { computeGoldenSet, defaultTolerances, type GoldenSource } from "../apps/hub/src/fleet/golden-frames.js";
import { arm64Runtime, buildRunner, runUnderQemu } from "./golden-parity-arm64.js";
import { table } from "./report.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

interface ModelPair {
  name: string;
  manifest: ModelManifest;
  fp32: Uint8Array;
  int8: Uint8Array;
}

/** One measured self-test: which file, against which golden outputs, where it ran. */
interface ParityRow {
  model: string;
  file: Precision;
  golden: string;
  ranOn: string;
  report: SelfTestReport;
}

async function models(): Promise<ModelPair[]> {
  const resnet = buildResNet18({ numClasses: 4, seed: 7 });
  const resnetQ = await buildResNet18Int8({ numClasses: 4, seed: 7 });
  const unetOpts = { size: 128, channels: [16, 32, 64], seed: 7 };
  const unet = buildUNet(unetOpts);
  const unetQ = await buildUNetInt8(unetOpts);
  return [
    { name: "ResNet18 (classification, 4 classes)", manifest: resnet.manifest, fp32: resnet.onnx, int8: resnetQ.onnx },
    { name: "U-Net 16-32-64 at 128 px (segmentation)", manifest: unet.manifest, fp32: unet.onnx, int8: unetQ.onnx },
  ];
}

const fmt = (v: number | null) => (v === null ? "—" : String(Math.round(v * 10000) / 10000));

export async function goldenParitySection(): Promise<{ markdown: string; data: unknown }> {
  const frames = new Map<string, Uint8Array>();
  const items: GoldenSource["items"] = [];
  for (let i = 0; i < 6; i++) {
    const f = await renderFrame(i, { seed: 21, width: 320, height: 240, defectRate: 0.5 });
    frames.set(sha(f.jpeg), f.jpeg);
    items.push({ sampleId: `frame-${i}`, image: { sha256: sha(f.jpeg), width: 320, height: 240 } });
  }
  // the hub's golden-set code reads frames through the blob store port; these are in memory
  const blobs = { get: async (s: string) => frames.get(s) ?? null } as unknown as BlobStore;
  const source: GoldenSource = { snapshotId: "bench", note: "6 synthetic frames", items };
  const fetchFrame = async (f: { sha256: string }) => frames.get(f.sha256)!;

  const rows: ParityRow[] = [];
  const cases: Array<{ name: string; bundleSha256: string; bundle: BundleManifest; modelFile: string }> = [];
  const dir = join(tmpdir(), `kensa-golden-parity-${process.pid}`);
  await mkdir(join(dir, "frames"), { recursive: true });
  for (const [s, bytes] of frames) await writeFile(join(dir, "frames", s), bytes);
  try {
    for (const m of await models()) {
      const golden = {
        fp32: await computeGoldenSet(m.fp32, m.manifest, "fp32", source, blobs),
        int8: await computeGoldenSet(m.int8, m.manifest, "int8", source, blobs),
      };
      // the int8 file judged against fp32's outputs, with int8 tolerances: what quantisation costs
      const int8VsFp32: GoldenSet = { ...golden.fp32, tolerances: defaultTolerances(m.manifest.task, "int8") };
      const variants: Array<{ file: Precision; goldenName: string; set: GoldenSet }> = [
        { file: "fp32", goldenName: "fp32 (own file)", set: golden.fp32 },
        { file: "int8", goldenName: "int8 (own file)", set: golden.int8 },
        { file: "int8", goldenName: "fp32 (the original)", set: int8VsFp32 },
      ];
      for (const v of variants) {
        const bytes = v.file === "int8" ? m.int8 : m.fp32;
        const bundle: BundleManifest = {
          schema: "kensa.bundle/v1",
          name: m.name,
          createdAt: new Date().toISOString(),
          projectId: "bench",
          modelVersionId: "bench",
          model: { sha256: sha(bytes), size: bytes.byteLength, format: "onnx" },
          manifest: m.manifest,
          target: { arch: "x64", precision: v.file, runtime: "onnxruntime-node" },
          golden: v.set,
        };
        const bundleSha256 = sha(Buffer.from(JSON.stringify(bundle)));
        const modelFile = `${sha(bytes)}.onnx`;
        await writeFile(join(dir, modelFile), bytes);
        cases.push({ name: `${m.name}|${v.file}|${v.goldenName}`, bundleSha256, bundle, modelFile });
        const inf = await Inferencer.create(bytes, m.manifest, { intraOpThreads: 1 });
        try {
          await inf.warmup();
          const report = await runSelfTest(inf, bundleSha256, bundle, fetchFrame, AbortSignal.timeout(600_000), "x64");
          rows.push({
            model: m.name,
            file: v.file,
            golden: v.goldenName,
            ranOn: `x64 native, Node ${process.version}`,
            report,
          });
        } finally {
          await inf.close();
        }
      }
    }
    await writeFile(join(dir, "cases.json"), JSON.stringify(cases));

    let arm64Note: string;
    const rt = await arm64Runtime();
    if ("reason" in rt) {
      arm64Note = `arm64 under qemu-user: not measured — ${rt.reason}.`;
    } else {
      const runner = await buildRunner(rt.dir);
      const t0 = performance.now();
      const out = (await runUnderQemu(rt, runner, dir)) as Array<{ name: string; report: SelfTestReport }>;
      const minutes = Math.round((performance.now() - t0) / 600) / 100;
      for (const o of out) {
        const [model, file, golden] = o.name.split("|") as [string, Precision, string];
        rows.push({ model, file, golden, ranOn: `arm64 under qemu-user, Node ${rt.nodeVersion}`, report: o.report });
      }
      arm64Note = `arm64: the same bundles (golden outputs computed on x64) run by the agent's self-test code with an arm64 Node ${rt.nodeVersion} and the linux-arm64 builds of onnxruntime-node and sharp, under qemu-aarch64-static (${minutes} min for all cases, emulated).`;
    }
    const markdown = [
      "The agent's golden-frame self-test (6 synthetic 320×240 frames) on golden sets computed by the hub's code on this",
      "x64 machine. `fp32 (the original)` judges the int8 file against the fp32 file's outputs with the int8 tolerances:",
      "what quantisation costs. Figures: top-1 agreement (share of frames), the largest score delta, mean box and mask IoU.",
      "Both models have seeded random weights (packages/vision/src/graph), so their top-1 margins are small: a harder",
      "case for int8 than a trained model.",
      "",
      table(
        ["model", "file", "golden outputs of", "ran on", "top-1", "max score Δ", "box IoU", "mask IoU", "result"],
        rows.map((r) => [
          r.model,
          r.file,
          r.golden,
          r.ranOn,
          fmt(r.report.figures.top1Agreement),
          fmt(r.report.figures.maxScoreDelta),
          fmt(r.report.figures.meanBoxIou),
          fmt(r.report.figures.meanMaskIou),
          r.report.status + (r.report.note ? ` (${r.report.note})` : ""),
        ]),
      ),
      "",
      arm64Note,
    ].join("\n");
    return { markdown, data: rows };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
