/**
 * Prints how the blemish model's centre-surround channels respond on @kensa/synth frames, per
 * surface and defect type, to choose BLEMISH_PARAMS thresholds between the OK frames' maxima
 * and the weakest defects. Calibrate on seeds the tests do not score on.
 *
 *   node --import tsx packages/vision/scripts/calibrate-blemish.ts [seeds=100,101,102,103,104,105] [frames=150]
 */
import { renderFrame, surfaceKinds } from "@kensa/synth";
import { BLEMISH_PARAMS, buildBlemishGraph, buildBlemishModel } from "../src/graph/index.js";
import { loadModel, percentile, preprocess } from "../src/index.js";

const seeds = (process.argv[2] ?? "100,101,102,103,104,105").split(",").map(Number);
const frames = Number(process.argv[3] ?? 150);
const { manifest } = buildBlemishModel();
const { width, height } = manifest.input;
const runner = await loadModel(buildBlemishGraph(width, height, BLEMISH_PARAMS, true), { intraOpThreads: 1 });

const groups = new Map<string, number[][]>();
for (const surface of surfaceKinds) {
  for (const seed of seeds) {
    for (let i = 0; i < frames; i++) {
      const f = await renderFrame(i, { seed, surface, defectRate: 0.5 });
      const pre = await preprocess(f.jpeg, manifest.input, manifest.preprocessing);
      const out = await runner.run({ image: { data: pre.data, dims: pre.dims } });
      const key = `${surface}/${f.defect?.type ?? "ok"}`;
      groups.set(key, [...(groups.get(key) ?? []), Array.from(out.responses!.data)]);
    }
  }
}
await runner.release();

const fmt = (v: number) => v.toFixed(3);
console.log(
  `channels: ${BLEMISH_PARAMS.channels.map((c, i) => `c${i} ${c.polarity} σ${c.centreSigma}/${c.surroundSigma} t=${c.threshold}`).join(", ")}`,
);
for (const [key, rows] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
  const cols = BLEMISH_PARAMS.channels.map((_, c) => {
    const v = rows.map((r) => r[c]!);
    return `c${c} min ${fmt(Math.min(...v))} p50 ${fmt(percentile(v, 50))} max ${fmt(Math.max(...v))}`;
  });
  // the evidence the Gemm sums: how far the strongest channel is above its threshold
  const margin = rows.map((r) => Math.max(...r.map((v, c) => v - BLEMISH_PARAMS.channels[c]!.threshold)));
  console.log(
    `${key.padEnd(22)} n=${String(rows.length).padStart(4)}  ${cols.join(" | ")}  margin min ${fmt(Math.min(...margin))} max ${fmt(Math.max(...margin))}`,
  );
}
