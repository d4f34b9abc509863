import { renderFrame } from "./render-frame.js";
import { allSurfaceKinds, type SurfaceKind } from "./surface-kind.js";

export interface SynthSpeed {
  surface: SurfaceKind;
  width: number;
  height: number;
  masks: boolean;
  /** frames per second, one frame at a time: render + JPEG (+ PNG mask) encode */
  fps: number;
}

export interface SynthSpeedOptions {
  /** ms to render each combination for, default 500 */
  durationMs?: number;
  surfaces?: readonly SurfaceKind[];
  sizes?: ReadonlyArray<readonly [width: number, height: number]>;
}

/**
 * Measures how many frames per second one synthetic camera produces, sequentially, per surface,
 * size and with or without masks, at the default defect rate. One camera uses one core for
 * rendering; encoding runs on libuv's threads, so cameras on other cores add up.
 */
export async function measureSynthSpeed(opts: SynthSpeedOptions = {}): Promise<SynthSpeed[]> {
  const durationMs = opts.durationMs ?? 500;
  const sizes = opts.sizes ?? [
    [320, 240],
    [640, 480],
  ];
  const rows: SynthSpeed[] = [];
  for (const surface of opts.surfaces ?? allSurfaceKinds) {
    for (const [width, height] of sizes) {
      for (const masks of [false, true]) {
        const o = { seed: 1, surface, width, height, masks };
        // warm up: JIT and sharp's first-call setup are not the steady state a camera runs in
        for (let i = 0; i < 5; i++) await renderFrame(i, o);
        let n = 0;
        const t0 = performance.now();
        let t = t0;
        while (t - t0 < durationMs || n < 10) {
          await renderFrame(1000 + n++, o);
          t = performance.now();
        }
        rows.push({ surface, width, height, masks, fps: Math.round((n * 10000) / (t - t0)) / 10 });
      }
    }
  }
  return rows;
}
