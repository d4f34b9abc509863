/**
 * ROC-AUC of `scores` against `positive` (Mann–Whitney U with tied scores counted half), or
 * null when either class is missing. Exact: sorts every score.
 */
export function auroc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    // ranks i+1 … j+1 share their mean
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) {
      if (positive[order[k]!]) {
        pos++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * ROC-AUC over very many scores in [0, 1] (every pixel of a test split): scores fall into
 * `bins` equal bins, pairs within a bin count half. The error is below 1/bins of the pairs
 * that share a bin; memory is constant.
 */
export class BinnedAuroc {
  #pos: Float64Array;
  #neg: Float64Array;

  constructor(readonly bins = 4096) {
    this.#pos = new Float64Array(bins);
    this.#neg = new Float64Array(bins);
  }

  add(score: number, positive: boolean): void {
    const s = Number.isNaN(score) ? 0 : Math.min(1, Math.max(0, score));
    const b = Math.min(this.bins - 1, Math.floor(s * this.bins));
    if (positive) this.#pos[b]!++;
    else this.#neg[b]!++;
  }

  /** null when either class is missing */
  value(): number | null {
    let negBelow = 0;
    let sum = 0;
    let pos = 0;
    let neg = 0;
    for (let b = 0; b < this.bins; b++) {
      const p = this.#pos[b]!;
      const q = this.#neg[b]!;
      sum += p * negBelow + 0.5 * p * q;
      negBelow += q;
      pos += p;
      neg += q;
    }
    return pos === 0 || neg === 0 ? null : sum / (pos * neg);
  }
}
