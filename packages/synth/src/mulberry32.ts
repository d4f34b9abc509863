/** A uniform generator on [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a 32-bit state PRNG. Statistically weaker than xoshiro but more than enough for
 * textures, and cheap enough for ~250k draws per 320x240 frame at ~200 frames/s.
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The same generator's raw 32-bit outputs, unsigned, for callers that split them. */
export function mulberry32Bits(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** murmur3's finaliser: every input bit flips about half the output bits. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit stream key from integers (seed, frame index, purpose, …), so that any frame's
 * stream is reachable directly and neighbouring keys (frame 7 and 8) give unrelated streams.
 * Parts may exceed 32 bits (up to 2^53); both halves take part.
 */
export function streamKey(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    h = fmix32(h ^ fmix32(lo + 0x7f4a7c15));
    h = fmix32(h ^ fmix32(hi + 0x165667b1));
  }
  return h;
}

/** Uniform in [lo, hi); the middle when the range is empty (a shape wider than the frame). */
export function between(rng: Rng, lo: number, hi: number): number {
  return hi <= lo ? (lo + hi) / 2 : lo + rng() * (hi - lo);
}
