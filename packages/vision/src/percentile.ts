/**
 * The p-th percentile (p in 0..100) with linear interpolation between closest ranks (numpy's
 * default), e.g. latency p50/p95. Does not modify its input. An empty list gives 0 so that
 * telemetry of an idle pipeline stays valid JSON (NaN would serialise as null).
 */
export function percentile(sortedOrNot: number[], p: number): number {
  const n = sortedOrNot.length;
  if (n === 0) return 0;
  const xs = [...sortedOrNot].sort((a, b) => a - b);
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  return xs[lo]! + (xs[hi]! - xs[lo]!) * (rank - lo);
}
