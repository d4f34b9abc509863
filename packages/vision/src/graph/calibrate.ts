import { loadModel } from "../load-model.js";
import { GraphBuilder } from "./graph-builder.js";
import { FloatEmitter } from "./net-emitter.js";
import type { QuantRange } from "./qdq-emitter.js";
import { seededRandom } from "./seeded-random.js";

export interface CalibrationInput {
  name: string;
  size: number;
  /** the normalisation the model's manifest applies, so inputs span what frames give */
  mean: readonly number[];
  std: readonly number[];
}

/**
 * Activation ranges for static int8 quantization: the float model, every quantization site
 * exposed as an output, run on seeded image-like inputs (smooth colour waves plus noise,
 * normalised like the manifest does); min/max per site over all of them. The input's own
 * range is the full normalised pixel range, since any frame may reach it.
 */
export async function calibrate(
  emit: (e: FloatEmitter) => void,
  input: CalibrationInput,
  images = 4,
): Promise<Map<string, QuantRange>> {
  const g = new GraphBuilder("kensa-calibration-probe");
  const probe = new FloatEmitter(g, { probe: true });
  emit(probe);
  const runner = await loadModel(g.toBytes(), { intraOpThreads: 1 });
  const { size, mean, std } = input;
  const ranges = new Map<string, QuantRange>();
  ranges.set(input.name, {
    min: Math.min(...mean.map((m, c) => -m / std[c]!)),
    max: Math.max(...mean.map((m, c) => (1 - m) / std[c]!)),
  });
  try {
    const rng = seededRandom(4242);
    for (let n = 0; n < images; n++) {
      const data = new Float32Array(3 * size * size);
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < size * size; i++) {
          const x = i % size;
          const y = (i - x) / size;
          const wave = Math.sin(((1 + n) * x) / 30 + c) * Math.cos(y / (20 + 5 * n));
          const p = Math.min(1, Math.max(0, 0.5 + 0.35 * wave + 0.15 * rng.normal()));
          data[c * size * size + i] = (p - mean[c]!) / std[c]!;
        }
      }
      const out = await runner.run({ [input.name]: { data, dims: [1, 3, size, size] } });
      for (const [site, value] of probe.sites) {
        const t = out[value];
        if (!t) throw new Error(`calibration: no output for ${site}`);
        let min = Infinity;
        let max = -Infinity;
        for (const v of t.data) {
          if (v < min) min = v;
          if (v > max) max = v;
        }
        const r = ranges.get(site);
        ranges.set(site, r ? { min: Math.min(r.min, min), max: Math.max(r.max, max) } : { min, max });
      }
    }
  } finally {
    await runner.release();
  }
  return ranges;
}
