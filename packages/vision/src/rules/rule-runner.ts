import type { Rule, RuleHit } from "@kensa/contracts";
import { evaluatorOf, type FrameVerdict, type WindowSample } from "./rule-evaluators.js";
import type { RuleInput } from "./rule-input.js";

/** What the runner remembers per (source, rule); the pipeline owns one runner. */
interface RuleState {
  /** the rule's definition this state was built for; a changed rule starts over */
  signature: string;
  /** ms epoch of the first frame this rule saw from the source */
  firstAtMs: number;
  /** the condition on the last `debounce.frames` frames, oldest first */
  history: boolean[];
  /** ms epoch since when the debounced condition holds without interruption */
  since: number | undefined;
  /** ms epoch of the last hit */
  lastHitAtMs: number | undefined;
  /** rules over a window: the samples inside it, oldest first */
  samples: WindowSample[];
}

/**
 * Applies a bundle's rules to the frames of each source, keeping state per (source, rule):
 * the evaluator's condition (per frame, or over a window of frames), then N-of-M debounce,
 * then dwell (the condition held for ≥ D ms), then cooldown (no new hit within C s of one).
 * Time is the frame's capture time, passed in, so a replayed or queued frame is judged by when
 * it was taken and tests need no clock.
 */
export class RuleRunner {
  #rules: readonly Rule[] = [];
  readonly #state = new Map<string, RuleState>();

  constructor(rules: readonly Rule[] = []) {
    this.setRules(rules);
  }

  get rules(): readonly Rule[] {
    return this.#rules;
  }

  /** Installs another bundle's rules; state of rules that did not change is kept. */
  setRules(rules: readonly Rule[]): void {
    this.#rules = rules;
    const live = new Map(rules.map((r) => [r.id, JSON.stringify(r)]));
    for (const [key, s] of this.#state) {
      const id = key.slice(key.indexOf("\u0000") + 1);
      if (live.get(id) !== s.signature) this.#state.delete(key);
    }
  }

  /** Forgets a source's state (it stopped, or was removed). */
  forgetSource(sourceId: string): void {
    for (const key of this.#state.keys()) if (key.startsWith(`${sourceId}\u0000`)) this.#state.delete(key);
  }

  /** The hits of one frame of `sourceId` captured at `atMs` (ms epoch); [] when none. */
  evaluate(sourceId: string, input: RuleInput, atMs: number): RuleHit[] {
    const hits: RuleHit[] = [];
    for (const rule of this.#rules) {
      const hit = this.#step(sourceId, rule, input, atMs);
      if (hit) hits.push(hit);
    }
    return hits;
  }

  #step(sourceId: string, rule: Rule, input: RuleInput, atMs: number): RuleHit | undefined {
    const key = `${sourceId}\u0000${rule.id}`;
    const signature = JSON.stringify(rule);
    let s = this.#state.get(key);
    if (!s || s.signature !== signature) {
      s = { signature, firstAtMs: atMs, history: [], since: undefined, lastHitAtMs: undefined, samples: [] };
      this.#state.set(key, s);
    }
    const evaluator = evaluatorOf(rule);
    let verdict: FrameVerdict = evaluator.frame(rule, input);
    if (evaluator.window) {
      const span = evaluator.window.spanMs(rule);
      s.samples.push({
        atMs,
        count: verdict.count ?? 0,
        ...(verdict.label !== undefined ? { label: verdict.label } : {}),
        ...(verdict.score !== undefined ? { score: verdict.score } : {}),
      });
      // a window of T s ending at this frame: (atMs - T, atMs]
      while (s.samples.length > 0 && (s.samples[0] as WindowSample).atMs <= atMs - span) s.samples.shift();
      verdict = evaluator.window.condition(rule, s.samples, atMs - s.firstAtMs);
    }

    let condition = verdict.match;
    if (rule.debounce) {
      s.history.push(verdict.match);
      if (s.history.length > rule.debounce.frames) s.history.shift();
      condition = s.history.filter(Boolean).length >= rule.debounce.hits;
    }
    if (!condition) {
      s.since = undefined;
      return undefined;
    }
    s.since ??= atMs;
    const heldMs = atMs - s.since;
    if (heldMs < (rule.dwellMs ?? 0)) return undefined;
    const cooldownMs = (rule.cooldownS ?? 0) * 1000;
    if (s.lastHitAtMs !== undefined && atMs - s.lastHitAtMs < cooldownMs) return undefined;
    s.lastHitAtMs = atMs;
    return {
      id: rule.id,
      name: rule.name,
      type: rule.type,
      hit: true,
      ...(verdict.label !== undefined ? { label: verdict.label } : {}),
      ...(verdict.score !== undefined ? { score: Math.min(1, Math.max(0, verdict.score)) } : {}),
      detail: {
        ...verdict.detail,
        ...(rule.debounce ? { debounce: `${s.history.filter(Boolean).length}/${s.history.length}` } : {}),
        ...(rule.dwellMs ? { heldMs } : {}),
      },
    };
  }
}
