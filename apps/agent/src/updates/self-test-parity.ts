import type { GoldenOutput, GoldenTolerances, ParityFigures, Task } from "@kensa/contracts";

type Item = NonNullable<GoldenOutput["items"]>[number];
type Box = Item["box"];

/** Side of the grid outlines are rasterised on for mask IoU: fine enough for regions, cheap on a Pi. */
const MASK_GRID = 64;

const round = (v: number) => Math.round(v * 1e6) / 1e6;

function boxIou(a: Box, b: Box): number {
  const x0 = Math.max(a[0], b[0]);
  const y0 = Math.max(a[1], b[1]);
  const x1 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y1 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : a[2] === b[2] && a[3] === b[3] && a[0] === b[0] && a[1] === b[1] ? 1 : 0;
}

/**
 * Greedy one-to-one matching of items of the same label, best IoU first. Returns the mean IoU
 * over max(expected, actual) items (an unmatched one counts 0; none on both sides is 1) and the
 * largest score difference among matched pairs (unmatched items are the IoU's to count).
 */
function matchItems(expected: readonly Item[], actual: readonly Item[]): { iou: number; scoreDelta: number } {
  if (expected.length === 0 && actual.length === 0) return { iou: 1, scoreDelta: 0 };
  const pairs: Array<{ i: number; j: number; iou: number }> = [];
  for (const [i, e] of expected.entries()) {
    for (const [j, a] of actual.entries()) {
      if (e.label === a.label) pairs.push({ i, j, iou: boxIou(e.box, a.box) });
    }
  }
  pairs.sort((p, q) => q.iou - p.iou);
  const usedE = new Set<number>();
  const usedA = new Set<number>();
  let sum = 0;
  let scoreDelta = 0;
  for (const p of pairs) {
    if (usedE.has(p.i) || usedA.has(p.j) || p.iou <= 0) continue;
    usedE.add(p.i);
    usedA.add(p.j);
    sum += p.iou;
    scoreDelta = Math.max(scoreDelta, Math.abs(expected[p.i]!.score - actual[p.j]!.score));
  }
  // an item the other side lacks costs box IoU (it counts 0 there), not score delta: a speck of
  // a region at the area limit must not weigh like a flipped class
  return { iou: sum / Math.max(expected.length, actual.length), scoreDelta };
}

/** Cells of a MASK_GRID grid over the frame covered by an item (its outline polygon, else its box). */
function rasterise(items: readonly Item[], width: number, height: number): Uint8Array {
  const cells = new Uint8Array(MASK_GRID * MASK_GRID);
  const sx = width / MASK_GRID;
  const sy = height / MASK_GRID;
  for (const it of items) {
    const poly = it.outline && it.outline.length >= 3 ? it.outline : null;
    for (let gy = 0; gy < MASK_GRID; gy++) {
      const y = (gy + 0.5) * sy;
      if (y < it.box[1] || y > it.box[1] + it.box[3]) continue;
      for (let gx = 0; gx < MASK_GRID; gx++) {
        const x = (gx + 0.5) * sx;
        if (x < it.box[0] || x > it.box[0] + it.box[2]) continue;
        if (!poly || insidePolygon(poly, x, y)) cells[gy * MASK_GRID + gx] = 1;
      }
    }
  }
  return cells;
}

function insidePolygon(poly: ReadonlyArray<readonly [number, number]>, x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Mean over labels present on either side of the IoU of their rasterised regions (1 when neither has any). */
function maskIou(expected: readonly Item[], actual: readonly Item[], width: number, height: number): number {
  const labels = [...new Set([...expected, ...actual].map((i) => i.label))];
  if (labels.length === 0) return 1;
  let sum = 0;
  for (const label of labels) {
    const a = rasterise(
      expected.filter((i) => i.label === label),
      width,
      height,
    );
    const b = rasterise(
      actual.filter((i) => i.label === label),
      width,
      height,
    );
    let inter = 0;
    let union = 0;
    for (let k = 0; k < a.length; k++) {
      if (a[k] && b[k]) inter++;
      if (a[k] || b[k]) union++;
    }
    sum += union === 0 ? 1 : inter / union;
  }
  return sum / labels.length;
}

/** One golden frame: what the hub computed, what this device computed, and the frame's size. */
export interface ParityPair {
  expected: GoldenOutput;
  actual: GoldenOutput;
  width: number;
  height: number;
}

/**
 * Parity of a device's outputs with the golden ones, per task: top-1 agreement (share of
 * frames), the largest score delta (per class; per matched box or region, and the anomaly image
 * score), mean box IoU (detection, segmentation, anomaly) and mean mask IoU (segmentation,
 * anomaly: regions rasterised from their outlines).
 */
export function parityOf(task: Task, pairs: readonly ParityPair[]): ParityFigures {
  if (pairs.length === 0) {
    return { frames: 0, top1Agreement: null, maxScoreDelta: null, meanBoxIou: null, meanMaskIou: null };
  }
  let agree = 0;
  let scoreDelta = 0;
  let boxSum = 0;
  let maskSum = 0;
  for (const p of pairs) {
    if ((p.expected.top?.label ?? null) === (p.actual.top?.label ?? null)) agree++;
    if (task === "classification") {
      const e = p.expected.scores ?? {};
      const a = p.actual.scores ?? {};
      for (const label of new Set([...Object.keys(e), ...Object.keys(a)])) {
        scoreDelta = Math.max(scoreDelta, Math.abs((e[label] ?? 0) - (a[label] ?? 0)));
      }
      continue;
    }
    if (task === "anomaly" && p.expected.top && p.actual.top) {
      scoreDelta = Math.max(scoreDelta, Math.abs(p.expected.top.score - p.actual.top.score));
    }
    const m = matchItems(p.expected.items ?? [], p.actual.items ?? []);
    scoreDelta = Math.max(scoreDelta, m.scoreDelta);
    boxSum += m.iou;
    if (task !== "detection") maskSum += maskIou(p.expected.items ?? [], p.actual.items ?? [], p.width, p.height);
  }
  const n = pairs.length;
  return {
    frames: n,
    top1Agreement: round(agree / n),
    maxScoreDelta: round(scoreDelta),
    meanBoxIou: task === "classification" ? null : round(boxSum / n),
    meanMaskIou: task === "classification" || task === "detection" ? null : round(maskSum / n),
  };
}

/** The tolerances a figure breaks, as text ("" when all hold). */
export function toleranceBreaches(f: ParityFigures, tol: GoldenTolerances): string {
  const out: string[] = [];
  if (f.top1Agreement !== null && f.top1Agreement < tol.top1Agreement)
    out.push(`top-1 agreement ${f.top1Agreement} < ${tol.top1Agreement}`);
  if (f.maxScoreDelta !== null && f.maxScoreDelta > tol.scoreDelta)
    out.push(`score delta ${f.maxScoreDelta} > ${tol.scoreDelta}`);
  if (f.meanBoxIou !== null && f.meanBoxIou < tol.boxIou) out.push(`box IoU ${f.meanBoxIou} < ${tol.boxIou}`);
  if (f.meanMaskIou !== null && f.meanMaskIou < tol.maskIou) out.push(`mask IoU ${f.meanMaskIou} < ${tol.maskIou}`);
  return out.join("; ");
}
