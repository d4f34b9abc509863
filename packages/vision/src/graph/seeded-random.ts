/** A reproducible random source: the same seed gives the same weights on every machine. */
export interface SeededRandom {
  /** uniform in [0, 1) */
  uniform(): number;
  /** standard normal (Box–Muller) */
  normal(): number;
}

/** mulberry32: tiny, fast and good enough for weights that only need to be reproducible. */
export function seededRandom(seed: number): SeededRandom {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  const normal = () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u = 1 - uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * uniform();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
  return { uniform, normal };
}

/** He-normal weights (std √(2 / fanIn)), what torchvision initialises ReLU convs with. */
export function heNormal(rng: SeededRandom, count: number, fanIn: number, gain = 1): Float32Array {
  const std = gain * Math.sqrt(2 / fanIn);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.normal() * std;
  return out;
}
