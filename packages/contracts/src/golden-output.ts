import type { GoldenOutput } from "./golden.js";
import type { InferenceResult } from "./mqtt/payloads.js";

const r6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** An inference result reduced to its golden output (scores and coordinates to 6 decimals). */
export function goldenOutputOf(result: InferenceResult): GoldenOutput {
  const box = (b: readonly number[]): [number, number, number, number] => [r6(b[0]!), r6(b[1]!), r6(b[2]!), r6(b[3]!)];
  switch (result.task) {
    case "classification":
      return {
        top: { label: result.label, score: r6(result.score) },
        scores: Object.fromEntries(Object.entries(result.scores).map(([k, v]) => [k, r6(v)])),
      };
    case "detection": {
      const items = result.detections
        .slice(0, 100)
        .map((d) => ({ label: d.label, score: r6(d.score), box: box(d.box) }));
      const best = items.reduce<(typeof items)[number] | null>((a, d) => (!a || d.score > a.score ? d : a), null);
      return { top: best ? { label: best.label, score: best.score } : null, items };
    }
    case "segmentation":
    case "anomaly": {
      const items = result.regions.slice(0, 100).map((g) => ({
        label: g.label,
        score: r6(g.score),
        box: box(g.box),
        ...(g.outline ? { outline: g.outline.map(([x, y]) => [r6(x), r6(y)] as [number, number]) } : {}),
      }));
      if (result.task === "anomaly") return { top: { label: result.label, score: r6(result.score) }, items };
      const best = items.reduce<(typeof items)[number] | null>((a, d) => (!a || d.score > a.score ? d : a), null);
      return { top: best ? { label: best.label, score: best.score } : null, items };
    }
  }
}
