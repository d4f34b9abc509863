import type { Rule, RuleOf, RuleType } from "@kensa/contracts";
import { rectOverlapShare } from "./geometry.js";
import { best, candidates, describeObject, type RuleInput, watchedLabels } from "./rule-input.js";

/** What one frame says about one rule. */
export interface FrameVerdict {
  /** the condition holds on this frame (rules over a window decide in `window` instead) */
  match: boolean;
  /** the class and score that stand for a hit (the incident's label and score) */
  label?: string;
  score?: number;
  /** objects this frame contributes to a rule over a window */
  count?: number;
  detail: Record<string, unknown>;
}

/** One frame's contribution to a rule over a window. */
export interface WindowSample {
  /** ms epoch of the frame */
  atMs: number;
  count: number;
  label?: string;
  score?: number;
}

export interface RuleEvaluator<R extends Rule> {
  /** Pure: what this frame says. */
  frame(rule: R, input: RuleInput): FrameVerdict;
  /**
   * Rules over time: the condition from the samples of the last `spanMs(rule)` ms; `seenMs` is
   * how long this source has been evaluated by the rule (a bound "at most" needs a full window).
   */
  window?: {
    spanMs(rule: R): number;
    condition(rule: R, samples: readonly WindowSample[], seenMs: number): FrameVerdict;
  };
}

const threshold: RuleEvaluator<RuleOf<"threshold">> = {
  frame(rule, input) {
    const r = input.result;
    // a project's rule looks at the class the model chose, as incidents always did
    const seen: RuleInput =
      rule.topClassOnly && r.task === "classification"
        ? { ...input, result: { ...r, scores: { [r.label]: r.score } } }
        : input;
    const found = candidates(seen, watchedLabels(rule.labels, input), rule.minScore ?? 0.5, rule.zone);
    const top = best(found);
    return {
      match: top !== undefined,
      ...(top ? { label: top.label, score: top.score } : {}),
      detail: { matched: found.slice(0, 20).map(describeObject) },
    };
  },
};

const minArea: RuleEvaluator<RuleOf<"min-area">> = {
  frame(rule, input) {
    const found = candidates(input, watchedLabels(rule.labels, input), rule.minScore ?? 0, rule.zone).filter(
      (o) => o.area !== undefined && o.area >= rule.minArea,
    );
    let largest = found[0];
    for (const o of found) if ((o.area ?? 0) > (largest?.area ?? 0)) largest = o;
    return {
      match: largest !== undefined,
      ...(largest ? { label: largest.label, score: largest.score } : {}),
      detail: { minArea: rule.minArea, matched: found.slice(0, 20).map(describeObject) },
    };
  },
};

const forbiddenClass: RuleEvaluator<RuleOf<"forbidden-class">> = {
  frame(rule, input) {
    const found = candidates(input, new Set(rule.labels), rule.minScore ?? 0.5, rule.zone);
    const top = best(found);
    return {
      match: top !== undefined,
      ...(top ? { label: top.label, score: top.score } : {}),
      detail: { forbidden: rule.labels, matched: found.slice(0, 20).map(describeObject) },
    };
  },
};

const requiredClass: RuleEvaluator<RuleOf<"required-class">> = {
  frame(rule, input) {
    const minScore = rule.minScore ?? 0.5;
    const required = candidates(input, new Set(rule.labels), minScore, rule.zone);
    if (!rule.subjects?.length) {
      return {
        match: required.length === 0,
        label: rule.labels[0] as string,
        score: 1,
        detail: { required: rule.labels, found: 0 },
      };
    }
    // required objects (a helmet) count wherever they are: only the subject must be in the zone
    const gear = candidates(input, new Set(rule.labels), minScore, undefined).filter((o) => o.box);
    const subjects = candidates(input, new Set(rule.subjects), minScore, rule.zone).filter((o) => o.box);
    const minOverlap = rule.minOverlap ?? 0.5;
    const missing = subjects.filter(
      (s) => !gear.some((g) => g.box && s.box && rectOverlapShare(g.box, s.box) >= minOverlap),
    );
    const top = best(missing);
    return {
      match: top !== undefined,
      ...(top ? { label: top.label, score: top.score } : {}),
      detail: { required: rule.labels, subjects: subjects.length, missing: missing.slice(0, 20).map(describeObject) },
    };
  },
};

const count: RuleEvaluator<RuleOf<"count">> = {
  frame(rule, input) {
    const found = candidates(input, watchedLabels(rule.labels, input), rule.minScore ?? 0.5, rule.zone);
    const top = best(found);
    return {
      match: false,
      count: found.length,
      ...(top ? { label: top.label, score: top.score } : {}),
      detail: {},
    };
  },
  window: {
    spanMs: (rule) => rule.windowS * 1000,
    condition(rule, samples, seenMs) {
      let total = 0;
      let top: WindowSample | undefined;
      for (const s of samples) {
        total += s.count;
        if (s.score !== undefined && (!top || s.score > (top.score ?? 0))) top = s;
      }
      const over = rule.atLeast !== undefined && total >= rule.atLeast;
      // "too few" needs a whole window of evidence, else every start would hit
      const under = rule.atMost !== undefined && seenMs >= rule.windowS * 1000 && total <= rule.atMost;
      return {
        match: over || under,
        label: top?.label ?? rule.labels?.[0] ?? "count",
        score: top?.score ?? 1,
        detail: {
          count: total,
          frames: samples.length,
          windowS: rule.windowS,
          ...(rule.atLeast !== undefined ? { atLeast: rule.atLeast } : {}),
          ...(rule.atMost !== undefined ? { atMost: rule.atMost } : {}),
        },
      };
    },
  },
};

/** Evaluators keyed by rule `type`. */
export const ruleEvaluators: { [T in RuleType]: RuleEvaluator<RuleOf<T>> } = {
  threshold,
  "min-area": minArea,
  "forbidden-class": forbiddenClass,
  "required-class": requiredClass,
  count,
};

/** The evaluator of a rule's type. */
export function evaluatorOf<R extends Rule>(rule: R): RuleEvaluator<R> {
  return ruleEvaluators[rule.type] as unknown as RuleEvaluator<R>;
}
