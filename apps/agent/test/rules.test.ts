import { type InferenceResult, parseManifest, type Rule, ruleIssues } from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import { clipToRect, pointInPolygon, polygonArea, rectInsideShare, rectOverlapShare } from "../src/rules/geometry.js";
import { ruleEvaluators } from "../src/rules/rule-evaluators.js";
import type { RuleInput } from "../src/rules/rule-input.js";
import { RuleRunner } from "../src/rules/rule-runner.js";

/** A 1000×500 frame: normalised x = px / 1000, y = px / 500. */
const frame = { width: 1000, height: 500 };
const labels = ["ok", "scratch", "person", "helmet", "part"];

function det(...items: Array<[label: string, score: number, box: [number, number, number, number]]>): RuleInput {
  return {
    result: {
      task: "detection",
      detections: items.map(([label, score, box]) => ({ label, score, box })),
      finding: false,
    },
    frame,
    labels,
    okLabels: ["ok"],
  };
}

function cls(label: string, score: number, scores: Record<string, number> = { [label]: score }): RuleInput {
  return { result: { task: "classification", label, score, scores, finding: false }, frame, labels, okLabels: ["ok"] };
}

function seg(...regions: Array<[label: string, area: number, box: [number, number, number, number]]>): RuleInput {
  const result: InferenceResult = {
    task: "segmentation",
    regions: regions.map(([label, area, box]) => ({ label, area, maskArea: 1, box, score: 0.9 })),
    finding: false,
  };
  return { result, frame, labels, okLabels: ["ok"] };
}

/** the left half of the frame */
const left = {
  polygon: [
    [0, 0],
    [0.5, 0],
    [0.5, 1],
    [0, 1],
  ] as Array<[number, number]>,
};
/** a concave "L": the left column (x < 0.2) plus the bottom strip (y > 0.8) */
const ell: Array<[number, number]> = [
  [0, 0],
  [0.2, 0],
  [0.2, 0.8],
  [1, 0.8],
  [1, 1],
  [0, 1],
];

describe("rule geometry", () => {
  it("knows inside from outside of a concave polygon and measures overlap exactly", () => {
    expect(pointInPolygon(0.1, 0.5, ell)).toBe(true);
    expect(pointInPolygon(0.5, 0.9, ell)).toBe(true);
    expect(pointInPolygon(0.5, 0.5, ell)).toBe(false);
    // 0.2 × 0.8 + 1 × 0.2
    expect(polygonArea(ell)).toBeCloseTo(0.36, 10);
    // a box [0.1,0.7]–[0.3,0.9]: inside are x<0.2 (0.1 × 0.2 = 0.02) and y>0.8 for x≥0.2 (0.1 × 0.1 = 0.01)
    expect(polygonArea(clipToRect(ell, [0.1, 0.7, 0.2, 0.2]))).toBeCloseTo(0.03, 10);
    expect(rectInsideShare([0.1, 0.7, 0.2, 0.2], ell)).toBeCloseTo(0.75, 10);
    expect(rectInsideShare([0.5, 0.1, 0.2, 0.2], ell)).toBe(0);
    // a helmet box 40×30 with its lower 10 px inside a person box
    expect(rectOverlapShare([100, 0, 40, 30], [90, 20, 100, 300])).toBeCloseTo(10 / 30, 10);
    // sides whose product is subnormal: a plain intersection/area quotient came out as 1.016
    const tiny = [0, 3.2345396895616934e-173, 2.5695480942261317e-136, 1.2173694882838098e-186] as const;
    const around = [0, 0, 2.5695480942261317e-136, 3.2345396895618155e-173] as const;
    expect(rectOverlapShare(tiny, around)).toBeLessThanOrEqual(1);
    expect(rectOverlapShare(tiny, around)).toBeGreaterThan(0.99);
  });
});

describe("rule evaluators (one frame, pure)", () => {
  it("threshold: any watched class at or above minScore; the non-OK labels by default; zones only see boxes", () => {
    const t = ruleEvaluators.threshold;
    const rule: Rule = { id: "t", name: "scratch ≥ .6", type: "threshold", labels: ["scratch"], minScore: 0.6 };
    expect(t.frame(rule, det(["scratch", 0.59, [0, 0, 10, 10]])).match).toBe(false);
    const v = t.frame(rule, det(["scratch", 0.6, [0, 0, 10, 10]], ["scratch", 0.8, [600, 0, 10, 10]]));
    expect(v).toMatchObject({ match: true, label: "scratch", score: 0.8 });
    // default labels: every label that is not OK; classification by its per-class scores
    const any: Rule = { id: "a", name: "any defect", type: "threshold" };
    expect(t.frame(any, cls("ok", 0.7, { ok: 0.7, scratch: 0.3 })).match).toBe(false);
    expect(t.frame(any, cls("ok", 0.45, { ok: 0.45, scratch: 0.55 }))).toMatchObject({ match: true, label: "scratch" });
    // a project's incident rule (topClassOnly) looks at the class the model chose, as the hub did
    const project: Rule = {
      id: "p",
      name: "project",
      type: "threshold",
      labels: ["scratch"],
      minScore: 0.4,
      topClassOnly: true,
    };
    expect(t.frame({ ...project, topClassOnly: false }, cls("ok", 0.55, { ok: 0.55, scratch: 0.45 })).match).toBe(true);
    expect(t.frame(project, cls("ok", 0.55, { ok: 0.55, scratch: 0.45 })).match).toBe(false);
    expect(t.frame(project, cls("scratch", 0.45, { ok: 0.3, scratch: 0.45, dent: 0.25 }))).toMatchObject({
      match: true,
      label: "scratch",
      score: 0.45,
    });
    // a zone (left half): the box centre decides; whole-frame classes cannot be located
    const zoned: Rule = { ...rule, zone: left };
    expect(t.frame(zoned, det(["scratch", 0.9, [490, 0, 20, 10]])).match).toBe(false); // centre x = 500 → 0.5, on the edge: outside
    expect(t.frame(zoned, det(["scratch", 0.9, [480, 0, 20, 10]])).match).toBe(true); // centre 490 → 0.49
    expect(t.frame({ ...zoned, labels: ["scratch"] }, cls("scratch", 0.99)).match).toBe(false);
    // "overlap": 30 % of a box inside is not enough for 0.5, 60 % is
    const overlap: Rule = { ...rule, zone: { ...left, inside: "overlap", minOverlap: 0.5 } };
    expect(t.frame(overlap, det(["scratch", 0.9, [470, 0, 100, 10]])).match).toBe(false);
    expect(t.frame(overlap, det(["scratch", 0.9, [440, 0, 100, 10]])).match).toBe(true);
  });

  it("min-area: regions by their px² of the original frame, detections by box width × height", () => {
    const m = ruleEvaluators["min-area"];
    const rule: Rule = { id: "m", name: "big scratch", type: "min-area", labels: ["scratch"], minArea: 400 };
    expect(m.frame(rule, seg(["scratch", 399, [0, 0, 30, 30]])).match).toBe(false);
    expect(m.frame(rule, seg(["scratch", 399, [0, 0, 30, 30]], ["scratch", 400, [50, 50, 5, 80]]))).toMatchObject({
      match: true,
      detail: { minArea: 400, matched: [{ label: "scratch", area: 400 }] },
    });
    // a 20×20 box is exactly 400 px²
    expect(m.frame(rule, det(["scratch", 0.3, [0, 0, 20, 20]])).match).toBe(true);
    expect(m.frame(rule, det(["scratch", 0.3, [0, 0, 19, 21]])).match).toBe(false);
    expect(m.frame(rule, cls("scratch", 1)).match).toBe(false);
  });

  it("forbidden-class: an object of the class in the zone; required-class: the zone must show one", () => {
    const f = ruleEvaluators["forbidden-class"];
    const nobody: Rule = { id: "f", name: "nobody left", type: "forbidden-class", labels: ["person"], zone: left };
    expect(f.frame(nobody, det(["person", 0.9, [700, 0, 100, 300]])).match).toBe(false);
    expect(f.frame(nobody, det(["person", 0.9, [100, 0, 100, 300]]))).toMatchObject({ match: true, label: "person" });
    expect(f.frame(nobody, det(["person", 0.4, [100, 0, 100, 300]])).match).toBe(false);

    const r = ruleEvaluators["required-class"];
    const partPresent: Rule = { id: "r", name: "part present", type: "required-class", labels: ["part"], zone: left };
    expect(r.frame(partPresent, det(["part", 0.9, [100, 100, 50, 50]])).match).toBe(false);
    expect(r.frame(partPresent, det(["part", 0.9, [800, 100, 50, 50]])).match).toBe(true);
  });

  it("required-class with subjects (PPE): a person in the zone without a helmet overlapping them is a hit", () => {
    const r = ruleEvaluators["required-class"];
    const ppe: Rule = {
      id: "ppe",
      name: "helmet on in zone A",
      type: "required-class",
      labels: ["helmet"],
      subjects: ["person"],
      zone: left,
    };
    const personA: [string, number, [number, number, number, number]] = ["person", 0.9, [100, 100, 100, 300]];
    const personB: [string, number, [number, number, number, number]] = ["person", 0.8, [300, 100, 100, 300]];
    // A wears a helmet (fully inside A's box); B does not → hit for B
    const helmetA: [string, number, [number, number, number, number]] = ["helmet", 0.9, [130, 100, 40, 30]];
    expect(r.frame(ppe, det(personA, helmetA)).match).toBe(false);
    const v = r.frame(ppe, det(personA, helmetA, personB));
    expect(v).toMatchObject({ match: true, label: "person", score: 0.8, detail: { subjects: 2 } });
    expect((v.detail.missing as unknown[]).length).toBe(1);
    // a helmet only a third inside B (above the head, 10 of 30 px) is not B's at minOverlap 0.5
    const floating: [string, number, [number, number, number, number]] = ["helmet", 0.9, [330, 80, 40, 30]];
    expect(r.frame(ppe, det(personB, floating)).match).toBe(true);
    expect(r.frame({ ...ppe, minOverlap: 0.3 }, det(personB, floating)).match).toBe(false);
    // B outside the zone (right half) is not the rule's business
    expect(r.frame(ppe, det(["person", 0.9, [700, 100, 100, 300]])).match).toBe(false);
  });
});

describe("RuleRunner (frame sequences, fake time)", () => {
  const scratch = (score: number) => det(["scratch", score, [0, 0, 10, 10]]);
  const yes = scratch(0.9);
  const no = scratch(0.1);
  const base: Rule = { id: "s", name: "scratch", type: "threshold", labels: ["scratch"], minScore: 0.5 };

  /** feeds inputs at 100 ms steps from t0; returns the frame indexes that hit */
  function run(runner: RuleRunner, inputs: RuleInput[], source = "cam", stepMs = 100, t0 = 1_000_000): number[] {
    const hits: number[] = [];
    inputs.forEach((input, i) => {
      if (runner.evaluate(source, input, t0 + i * stepMs).length > 0) hits.push(i);
    });
    return hits;
  }

  it("without gates, every matching frame hits", () => {
    expect(run(new RuleRunner([base]), [no, yes, yes, no, yes])).toEqual([1, 2, 4]);
  });

  it("N-of-M debounce: 2 of the last 3 frames", () => {
    const runner = new RuleRunner([{ ...base, debounce: { hits: 2, frames: 3 } }]);
    // windows: [y]=1, [y,n]=1, [y,n,y]=2 ✓, [n,y,n]=1, [y,n,n]=1, [n,n,y]=1, [n,y,y]=2 ✓, [y,y,y]=3 ✓
    expect(run(runner, [yes, no, yes, no, no, yes, yes, yes])).toEqual([2, 6, 7]);
  });

  it("dwell: the condition must hold 250 ms without a break", () => {
    const runner = new RuleRunner([{ ...base, dwellMs: 250 }]);
    // true from t=0 (i=0..2: held 0,100,200), broken at i=3; from i=4 held 0,100,200,300 → i=7, 400 → i=8
    expect(run(runner, [yes, yes, yes, no, yes, yes, yes, yes, yes])).toEqual([7, 8]);
  });

  it("cooldown: no new hit within 0.35 s of the last one", () => {
    const runner = new RuleRunner([{ ...base, cooldownS: 0.35 }]);
    // hits at 0 ms; 100..300 cooled; 400 ✓; 500..700 cooled; 800 ✓
    expect(run(runner, Array(9).fill(yes))).toEqual([0, 4, 8]);
  });

  it("gates compose: debounce, then dwell, then cooldown", () => {
    const runner = new RuleRunner([{ ...base, debounce: { hits: 2, frames: 2 }, dwellMs: 100, cooldownS: 10 }]);
    // debounced true from i=1 (t=100); dwell 100 ms reached at i=2; then 10 s cooldown
    const hits = run(runner, [yes, yes, yes, yes, yes]);
    expect(hits).toEqual([2]);
    const hit = runner.evaluate("cam", yes, 1_000_000 + 12_000)[0];
    expect(hit).toMatchObject({ id: "s", name: "scratch", type: "threshold", hit: true, label: "scratch", score: 0.9 });
    expect(hit?.detail).toMatchObject({ debounce: "2/2" });
  });

  it("count over a sliding window: ≥ 5 parts within 1 s, summed per frame", () => {
    const parts = (n: number) =>
      det(
        ...Array.from(
          { length: n },
          () => ["part", 0.9, [0, 0, 5, 5]] as [string, number, [number, number, number, number]],
        ),
      );
    const rule: Rule = { id: "c", name: "5 parts a second", type: "count", labels: ["part"], windowS: 1, atLeast: 5 };
    const runner = new RuleRunner([rule]);
    // frames every 250 ms; the window (t−1000, t] holds the last 4 frames
    // parts 1,1,2,0,1,1,0,0,2 → sums 1,2,4,4,4,4,2,2,3: never 5
    expect(run(runner, [1, 1, 2, 0, 1, 1, 0, 0, 2].map(parts), "cam", 250)).toEqual([]);
    const r2 = new RuleRunner([rule]);
    // parts 2,2,1,0,0,0,3 → sums 2,4,5 ✓,5 ✓,3,1,3: the early parts leave the window
    expect(run(r2, [2, 2, 1, 0, 0, 0, 3].map(parts), "cam", 250)).toEqual([2, 3]);
  });

  it("count atMost: too few only once a whole window was seen", () => {
    const parts = (n: number) =>
      det(
        ...Array.from(
          { length: n },
          () => ["part", 0.9, [0, 0, 5, 5]] as [string, number, [number, number, number, number]],
        ),
      );
    const runner = new RuleRunner([
      { id: "starved", name: "line starved", type: "count", labels: ["part"], windowS: 1, atMost: 0 },
    ]);
    // 500 ms steps: i=0 (seen 0 ms) and i=1 (500 ms) cannot judge; i=2 (1000 ms): window (0,1000] = i=1,2 → 0 parts ✓
    expect(run(runner, [parts(0), parts(0), parts(0), parts(1), parts(0), parts(0)], "cam", 500)).toEqual([2, 5]);
  });

  it("keeps state per source, and forgets a rule whose definition changed", () => {
    const runner = new RuleRunner([{ ...base, debounce: { hits: 2, frames: 2 } }]);
    expect(runner.evaluate("a", yes, 0)).toEqual([]);
    expect(runner.evaluate("b", yes, 0)).toEqual([]);
    expect(runner.evaluate("a", yes, 100)).toHaveLength(1);
    // same id, new definition (another bundle): history starts over
    runner.setRules([{ ...base, debounce: { hits: 2, frames: 3 } }]);
    expect(runner.evaluate("b", yes, 100)).toEqual([]);
    expect(runner.evaluate("b", yes, 200)).toHaveLength(1);
  });
});

describe("rules in the bundle manifest", () => {
  const manifest = {
    task: "detection",
    input: { name: "images", width: 64, height: 64 },
    preprocessing: {},
    labels: ["person", "helmet"],
    postprocessing: { type: "detection", layout: "yolov8" },
    thresholds: {},
  };

  it("are validated against the schema of their own type, with key paths", () => {
    expect(parseManifest({ ...manifest, rules: [{ id: "a", name: "A", type: "threshold" }] }).rules).toHaveLength(1);
    expect(parseManifest(manifest).rules).toBeUndefined();
    const bad = [
      { id: "a", name: "A", type: "threshold", minScore: 2 },
      { id: "a", name: "dup", type: "count", windowS: 5 },
      {
        id: "z",
        name: "Z",
        type: "forbidden-class",
        labels: ["person"],
        zone: {
          polygon: [
            [0, 0],
            [1, 1],
          ],
        },
      },
      { id: "d", name: "D", type: "threshold", debounce: { hits: 3, frames: 2 } },
      { id: "x", name: "X", type: "line-crossing" },
    ];
    const paths = ruleIssues(bad).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/rules/0/minScore",
        "/rules/1/id",
        "/rules/1",
        "/rules/2/zone/polygon",
        "/rules/3/debounce/hits",
        "/rules/4/type",
      ]),
    );
    expect(() => parseManifest({ ...manifest, rules: bad })).toThrow(/\/rules\/0\/minScore/);
  });
});
