import type { SegmentationMetrics } from "@kensa/contracts";
import { BinnedAuroc } from "./auroc.js";

/** a truth pixel with this value is not scored (letterbox padding, outside the image) */
export const IGNORE = 255;

/**
 * Pixel counts over a whole test split: a confusion matrix of truth × predicted class, and
 * a binned defect-vs-background ROC. IoU and Dice are computed over all pixels together
 * (not averaged per image), so large and small defects weigh by their area.
 */
export class SegmentationAccumulator {
  #k: number;
  #confusion: Float64Array;
  #roc = new BinnedAuroc(4096);
  #labels: readonly string[];
  #ok: boolean[];
  #scored = false;

  constructor(labels: readonly string[], okLabels: readonly string[]) {
    this.#labels = labels;
    this.#k = labels.length;
    this.#ok = labels.map((l) => okLabels.includes(l));
    this.#confusion = new Float64Array(this.#k * this.#k);
  }

  /**
   * One image: class indices per pixel (truth may hold IGNORE) and, optionally, the defect
   * score per pixel (1 − Σ P(OK labels)) for the pixel AUROC.
   */
  add(truth: ArrayLike<number>, predicted: ArrayLike<number>, defectScore?: ArrayLike<number>): void {
    for (let i = 0; i < truth.length; i++) {
      const t = truth[i]!;
      if (t === IGNORE) continue;
      this.#confusion[t * this.#k + predicted[i]!]!++;
      if (defectScore) this.#roc.add(defectScore[i]!, !this.#ok[t]);
    }
    if (defectScore) this.#scored = true;
  }

  result(): SegmentationMetrics {
    const k = this.#k;
    const c = (t: number, p: number) => this.#confusion[t * k + p]!;
    const perClass: SegmentationMetrics["perClass"] = {};
    const ious: number[] = [];
    let pixels = 0;
    let fgTp = 0;
    let fgFp = 0;
    let fgFn = 0;
    for (let t = 0; t < k; t++) {
      for (let p = 0; p < k; p++) {
        const n = c(t, p);
        pixels += n;
        const tf = !this.#ok[t];
        const pf = !this.#ok[p];
        if (tf && pf) fgTp += n;
        else if (pf) fgFp += n;
        else if (tf) fgFn += n;
      }
    }
    for (let j = 0; j < k; j++) {
      let row = 0;
      let col = 0;
      for (let i = 0; i < k; i++) {
        row += c(j, i);
        col += c(i, j);
      }
      const tp = c(j, j);
      const union = row + col - tp;
      // a class absent from truth and prediction was segmented perfectly: nothing to find, nothing found
      const iou = union ? tp / union : 1;
      const dice = row + col ? (2 * tp) / (row + col) : 1;
      perClass[this.#labels[j]!] = { iou, dice, pixels: row };
      if (!this.#ok[j] && union > 0) ious.push(iou);
    }
    const fgUnion = fgTp + fgFp + fgFn;
    return {
      perClass,
      miou: ious.length ? ious.reduce((a, b) => a + b, 0) / ious.length : 1,
      defect: {
        iou: fgUnion ? fgTp / fgUnion : 1,
        dice: fgUnion ? (2 * fgTp) / (2 * fgTp + fgFp + fgFn) : 1,
      },
      pixelAuroc: this.#scored ? this.#roc.value() : null,
      pixels,
    };
  }
}
