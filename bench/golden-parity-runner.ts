/**
 * Runs the agent's golden-frame self-test on prepared cases and prints one JSON report per case.
 * Bundled into one file with only sharp and onnxruntime-node external, so it runs on any Node
 * (an arm64 one under qemu-user) beside that architecture's builds of those two.
 * Usage: node runner.mjs <cases dir>  (cases.json: [{ name, bundleSha256, bundle, modelFile }], frames/<sha>)
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type BundleManifest, targetArch } from "@kensa/contracts";
import { Inferencer } from "@kensa/vision";
import { runSelfTest } from "../apps/agent/src/updates/self-test.js";

interface Case {
  name: string;
  bundleSha256: string;
  bundle: BundleManifest;
  modelFile: string;
}

const dir = process.argv[2];
if (!dir) throw new Error("usage: runner <cases dir>");
const cases = JSON.parse(await readFile(join(dir, "cases.json"), "utf8")) as Case[];
for (const c of cases) {
  const t0 = performance.now();
  // the agent's loader: the model file by path, one ONNX Runtime session, the manifest's pre/post
  const model = await Inferencer.create(join(dir, c.modelFile), c.bundle.manifest, { intraOpThreads: 1 });
  const loadMs = performance.now() - t0;
  try {
    await model.warmup();
    const report = await runSelfTest(
      model,
      c.bundleSha256,
      c.bundle,
      async (f) => new Uint8Array(await readFile(join(dir, "frames", f.sha256))),
      AbortSignal.timeout(30 * 60_000),
      targetArch(process.arch),
    );
    console.log(JSON.stringify({ name: c.name, node: process.version, loadMs, report }));
  } finally {
    await model.close();
  }
}
