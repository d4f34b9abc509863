import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DetectionResult, ModelManifest, TrainerSample } from "@kensa/contracts";
import { mulberry32 } from "@kensa/synth";
import { Inferencer } from "@kensa/vision";
import sharp from "sharp";

/** A spot drawn into a frame: its box in frame px. */
export type SpotBox = [x: number, y: number, w: number, h: number];

/**
 * Large grey frames (brushed texture) with a few small dark spots of `radius` px, as PNG files
 * with a box per spot: defects that survive at native resolution and vanish when the frame is
 * shrunk to a small model input. Every 5th frame goes to val, every 5th + 1 to test.
 */
export async function spotFrames(o: {
  dir: string;
  count: number;
  width: number;
  height: number;
  radius: number;
  seed: number;
}): Promise<{ samples: TrainerSample[]; truth: Map<string, SpotBox[]> }> {
  const rng = mulberry32(o.seed);
  const samples: TrainerSample[] = [];
  const truth = new Map<string, SpotBox[]>();
  const { width: w, height: h, radius: r } = o;
  for (let i = 0; i < o.count; i++) {
    const px = new Uint8Array(w * h);
    const rowShade = Array.from({ length: h }, () => (rng() - 0.5) * 16);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = 140 + rowShade[y]! + (rng() - 0.5) * 12;
    const boxes: SpotBox[] = [];
    const n = i % 4 === 3 ? 0 : 1 + Math.floor(rng() * 3);
    for (let k = 0; k < n; k++) {
      const cx = r + 4 + Math.floor(rng() * (w - 2 * r - 8));
      const cy = r + 4 + Math.floor(rng() * (h - 2 * r - 8));
      for (let y = cy - r; y <= cy + r; y++) {
        for (let x = cx - r; x <= cx + r; x++) {
          if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) px[y * w + x] = 55;
        }
      }
      boxes.push([cx - r, cy - r, 2 * r + 1, 2 * r + 1]);
    }
    const id = `t${String(i).padStart(3, "0")}`;
    const path = join(o.dir, `${id}.png`);
    await sharp(px, { raw: { width: w, height: h, channels: 1 } })
      .png()
      .toFile(path);
    const split = i % 5 === 0 ? "val" : i % 5 === 1 ? "test" : "train";
    samples.push({
      id,
      path,
      split,
      classes: n ? ["spot"] : [],
      boxes: boxes.map(([x, y, bw, bh]) => ({ label: "spot", x, y, w: bw, h: bh })),
    });
    truth.set(id, boxes);
  }
  return { samples, truth };
}

/** a detection counts when its score reaches this and its centre lies in the spot's box ± SPOT_SLACK px */
export const SPOT_MIN_SCORE = 0.3;
export const SPOT_SLACK = 4;

/**
 * A detector (model file and manifest) run through @kensa/vision's Inferencer on the test
 * frames: the share of spots found, detections per frame matching no spot, and ms per frame.
 */
export async function spotRecall(
  onnx: Uint8Array,
  manifest: ModelManifest,
  samples: readonly TrainerSample[],
  truth: Map<string, SpotBox[]>,
  threads = 1,
): Promise<{ recall: number; falsePerFrame: number; ms: number[] }> {
  const inf = await Inferencer.create(onnx, manifest, { intraOpThreads: threads });
  let found = 0;
  let total = 0;
  let wrong = 0;
  const ms: number[] = [];
  try {
    await inf.warmup();
    for (const s of samples.filter((x) => x.split === "test")) {
      const r = await inf.infer(await readFile(s.path));
      ms.push(r.latencyMs.total);
      const dets = (r.result as DetectionResult).detections.filter((d) => d.score >= SPOT_MIN_SCORE);
      const spots = truth.get(s.id)!;
      total += spots.length;
      found += spots.filter((b) => dets.some((d) => inside(d.box, b))).length;
      wrong += dets.filter((d) => !spots.some((b) => inside(d.box, b))).length;
    }
  } finally {
    await inf.close();
  }
  return { recall: total ? found / total : 0, falsePerFrame: ms.length ? wrong / ms.length : 0, ms };
}

function inside(d: [number, number, number, number], b: SpotBox): boolean {
  const cx = d[0] + d[2] / 2;
  const cy = d[1] + d[3] / 2;
  return (
    cx >= b[0] - SPOT_SLACK &&
    cx <= b[0] + b[2] + SPOT_SLACK &&
    cy >= b[1] - SPOT_SLACK &&
    cy <= b[1] + b[3] + SPOT_SLACK
  );
}
