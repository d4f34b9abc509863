import { describe, expect, it } from "vitest";
import { auroc, BinnedAuroc } from "../src/registry/evaluation/metrics/auroc.js";
import { classificationMetrics, defectScore } from "../src/registry/evaluation/metrics/classification-metrics.js";
import { scoreCurves } from "../src/registry/evaluation/metrics/curves.js";
import { averagePrecision, boxIou, detectionMetrics } from "../src/registry/evaluation/metrics/detection-metrics.js";
import { IGNORE, SegmentationAccumulator } from "../src/registry/evaluation/metrics/segmentation-metrics.js";

/** Every expected number below was worked out by hand (see the comments). */
describe("evaluation metrics, checked against hand-computed values", () => {
  it("classification: a 3-class confusion matrix, per-class P/R/F1, macro F1 and defect-vs-OK AUROC", () => {
    const labels = ["ok", "scratch", "dent"];
    const pairs: Array<[number, number, number]> = [
      // truth, predicted, defect score
      [0, 0, 0.1],
      [0, 0, 0.2],
      [0, 0, 0.3],
      [0, 1, 0.6],
      [1, 1, 0.9],
      [1, 1, 0.8],
      [1, 2, 0.4],
      [2, 2, 0.7],
      [2, 0, 0.2],
    ];
    const m = classificationMetrics(
      pairs.map(([truth, predicted, defectScore]) => ({ truth, predicted, defectScore })),
      labels,
      ["ok"],
    );
    expect(m.confusion).toEqual([
      [3, 1, 0],
      [0, 2, 1],
      [1, 0, 1],
    ]);
    expect(m.accuracy).toBeCloseTo(6 / 9, 10);
    // ok: 3 of 4 predicted ok are ok, 3 of 4 ok found; scratch 2/3 and 2/3; dent 1/2 and 1/2
    expect(m.perClass.ok).toMatchObject({ precision: 0.75, recall: 0.75, support: 4 });
    expect(m.perClass.ok!.f1).toBeCloseTo(0.75, 10);
    expect(m.perClass.scratch!.precision).toBeCloseTo(2 / 3, 10);
    expect(m.perClass.scratch!.f1).toBeCloseTo(2 / 3, 10);
    expect(m.perClass.dent).toMatchObject({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(m.f1Macro).toBeCloseTo((0.75 + 2 / 3 + 0.5) / 3, 10);
    // 5 defective × 4 OK pairs: 0.9, 0.8, 0.7 beat all 4; 0.4 beats 3; 0.2 beats 1 and ties 1 → 16.5 / 20
    expect(m.auroc).toBeCloseTo(16.5 / 20, 10);
  });

  it("classification: a class never predicted has precision 0; without OK labels there is no AUROC", () => {
    const m = classificationMetrics(
      [
        { truth: 0, predicted: 0, defectScore: 0 },
        { truth: 1, predicted: 0, defectScore: 0 },
      ],
      ["a", "b"],
      [],
    );
    expect(m.perClass.b).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(m.auroc).toBeNull();
  });

  it("defect score: 1 − Σ P(OK) for softmax outputs, the best non-OK score for sigmoid outputs", () => {
    expect(defectScore({ ok: 0.7, good: 0.1, defect: 0.2 }, ["ok", "good"], "softmax")).toBeCloseTo(0.2, 10);
    expect(defectScore({ ok: 0.9, scratch: 0.3, dent: 0.6 }, ["ok"], "sigmoid")).toBeCloseTo(0.6, 10);
  });

  it("AUROC: exact with ties counted half, binned within a bin's width, null with one class", () => {
    expect(auroc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBeCloseTo(0.75, 10);
    expect(auroc([0.5, 0.5], [true, false])).toBe(0.5);
    expect(auroc([0.2, 0.3], [true, true])).toBeNull();
    const b = new BinnedAuroc(4096);
    for (const [s, p] of [
      [0.1, false],
      [0.4, false],
      [0.35, true],
      [0.8, true],
    ] as const)
      b.add(s, p);
    expect(b.value()).toBeCloseTo(0.75, 10);
  });

  it("detection: the 3-box case — AP@0.5 = 56/101 and AP@0.5:0.95 = 362/1010 (COCO 101-point)", () => {
    // image A: two truths; a perfect box (TP), a duplicate on the same truth (FP); image B: a box
    // covering half its truth (IoU exactly 0.5: TP at 0.5, FP above). Ranked: TP, FP, TP of 3 truths →
    // envelope 1, 2/3, 2/3 at recall 1/3, 1/3, 2/3 → 34 points at 1, 33 at 2/3, 34 at 0.
    const images = [
      {
        truths: [
          { label: "scratch", box: [0, 0, 10, 10] as [number, number, number, number] },
          { label: "scratch", box: [20, 20, 10, 10] as [number, number, number, number] },
        ],
        detections: [
          { label: "scratch", score: 0.9, box: [0, 0, 10, 10] as [number, number, number, number] },
          { label: "scratch", score: 0.8, box: [1, 1, 10, 10] as [number, number, number, number] },
        ],
      },
      {
        truths: [{ label: "scratch", box: [0, 0, 10, 10] as [number, number, number, number] }],
        detections: [{ label: "scratch", score: 0.7, box: [0, 0, 10, 5] as [number, number, number, number] }],
      },
    ];
    const m = detectionMetrics(images, ["scratch", "dent"]);
    expect(m.perClass.scratch!.ap50).toBeCloseTo(56 / 101, 10);
    // above 0.5 only the perfect box matches: 34 points at precision 1 for each of the 9 other thresholds
    expect(m.perClass.scratch!.ap50_95).toBeCloseTo((56 + 9 * 34) / 1010, 10);
    expect(m.map50).toBeCloseTo(56 / 101, 10);
    // "dent" has no truth: reported, left out of the means
    expect(m.perClass.dent).toMatchObject({ truths: 0, detections: 0 });
    expect(boxIou([0, 0, 10, 10], [1, 1, 10, 10])).toBeCloseTo(81 / 119, 10);
  });

  it("detection: AP is 1 for perfect ranked boxes and 0 without detections", () => {
    const truths = [[[0, 0, 5, 5] as [number, number, number, number]]];
    expect(averagePrecision([{ img: 0, box: [0, 0, 5, 5] }], truths, 1, 0.5)).toBeCloseTo(1, 10);
    expect(averagePrecision([], truths, 1, 0.5)).toBe(0);
  });

  it("segmentation: the 4×4 case — defect IoU 3/5, Dice 3/4, background IoU 11/13, pixel AUROC 40/48", () => {
    // truth: a 2×2 defect in the middle; prediction: 3 of its pixels plus one to the right
    const truth = [0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0];
    const pred = [0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0];
    const score = pred.map((p) => (p ? 0.9 : 0.1));
    const acc = new SegmentationAccumulator(["background", "defect"], ["background"]);
    acc.add(truth, pred, score);
    const m = acc.result();
    expect(m.perClass.defect!.iou).toBeCloseTo(3 / 5, 10);
    expect(m.perClass.defect!.dice).toBeCloseTo(6 / 8, 10);
    expect(m.perClass.background!.iou).toBeCloseTo(11 / 13, 10);
    expect(m.perClass.background!.dice).toBeCloseTo(22 / 24, 10);
    expect(m.miou).toBeCloseTo(0.6, 10);
    expect(m.defect.iou).toBeCloseTo(0.6, 10);
    // 3 defect pixels at 0.9 beat 11 background ones and tie 1; the missed one at 0.1 ties 11
    expect(m.pixelAuroc).toBeCloseTo((3 * 11.5 + 5.5) / 48, 10);
    expect(m.pixels).toBe(16);
  });

  it("segmentation: ignored pixels are not scored; a split with no defect anywhere scores 1", () => {
    const acc = new SegmentationAccumulator(["bg", "a", "b"], ["bg"]);
    acc.add([0, IGNORE, 0, 0], [0, 1, 0, 0]);
    const m = acc.result();
    expect(m.pixels).toBe(3);
    expect(m.miou).toBe(1);
    expect(m.defect.iou).toBe(1);
    expect(m.pixelAuroc).toBeNull();
  });
});

describe("ROC and precision–recall curves", () => {
  it("steps one threshold at a time, by hand", () => {
    const c = scoreCurves([0.9, 0.8, 0.7, 0.2], [true, false, true, false])!;
    expect(c.roc.map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [1, 1],
    ]);
    expect(c.pr.map((p) => [p.recall, Math.round(p.precision * 1000) / 1000])).toEqual([
      [0.5, 1],
      [0.5, 0.5],
      [1, 0.667],
      [1, 0.5],
    ]);
  });

  it("moves tied scores together, thins long curves and needs both classes", () => {
    const tied = scoreCurves([0.5, 0.5, 0.1], [true, false, false])!;
    expect(tied.roc.map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [0.5, 1],
      [1, 1],
    ]);
    const n = 1000;
    const long = scoreCurves(
      Array.from({ length: n }, (_, i) => i / n),
      Array.from({ length: n }, (_, i) => i % 3 === 0),
    )!;
    expect(long.roc.length).toBe(101);
    expect(long.roc.at(-1)).toMatchObject({ fpr: 1, tpr: 1 });
    expect(scoreCurves([0.1, 0.2], [true, true])).toBeNull();
  });
});
