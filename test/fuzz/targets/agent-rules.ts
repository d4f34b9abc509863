import { InferenceResult, type Rule, type RuleHit, Rule as RuleSchema, ruleIssues } from "@kensa/contracts";
import fc from "fast-check";
import { rectInsideShare, rectOverlapShare } from "../../../apps/agent/src/rules/geometry.js";
import { RuleRunner } from "../../../apps/agent/src/rules/rule-runner.js";
import { type FuzzTarget, fuzzProperty, timed } from "../harness.js";
import { mutatedJson } from "../mutations.js";
import { arbitraryOf } from "../schema-arbitrary.js";

const LABELS = ["ok", "scratch", "dent", "person", "helmet"];
/** schema-valid rules, scaled so that frames a few seconds apart can make them hit */
const rule = (arbitraryOf(RuleSchema, { words: LABELS, maxItems: 3 }) as fc.Arbitrary<Rule>).map((r): Rule => {
  const out = { ...r };
  if (out.debounce) out.debounce = { ...out.debounce, hits: Math.min(out.debounce.hits, out.debounce.frames) % 4 || 1 };
  if (out.dwellMs !== undefined) out.dwellMs %= 3_000;
  if (out.cooldownS !== undefined) out.cooldownS %= 5;
  if (out.type === "count") out.windowS = (out.windowS % 10) + 0.5;
  return out;
});
/** rule sets the agent would load: unique ids, valid per ruleIssues */
const rules = fc
  .uniqueArray(rule, { maxLength: 4, selector: (r) => r.id })
  .map((rs) => rs.filter((r) => ruleIssues([r]).length === 0));
const result = arbitraryOf(InferenceResult, { words: LABELS, maxItems: 6 }) as fc.Arbitrary<InferenceResult>;
const frames = fc.array(
  fc.record({
    source: fc.constantFrom("cam-1", "cam-2"),
    dtMs: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.constantFrom(0, 86_400_000)),
    result,
    width: fc.integer({ min: 0, max: 4096 }),
    height: fc.integer({ min: 0, max: 4096 }),
  }),
  { minLength: 1, maxLength: 12 },
);
const rect = fc.tuple(
  fc.double({ min: -2, max: 2, noNaN: true }),
  fc.double({ min: -2, max: 2, noNaN: true }),
  fc.double({ min: 0, max: 3, noNaN: true }),
  fc.double({ min: 0, max: 3, noNaN: true }),
);
const polygon = fc.array(
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
  {
    minLength: 3,
    maxLength: 12,
  },
);

function checkHit(hit: RuleHit, byId: Map<string, Rule>): void {
  const r = byId.get(hit.id);
  if (!r) throw new Error(`hit of unknown rule ${hit.id}`);
  if (hit.type !== r.type || hit.hit !== true) throw new Error("hit does not describe its rule");
  if (hit.score !== undefined && !(hit.score >= 0 && hit.score <= 1))
    throw new Error(`hit score ${hit.score} outside [0, 1]`);
  JSON.stringify(hit);
}

/** The agent's rule engine (apps/agent/src/rules) and the rule validator (ruleIssues). */
export const agentRulesTarget: FuzzTarget = {
  name: "agent-rules",
  covers: "rule validation (ruleIssues) and the agent's rule runner with its geometry (apps/agent/src/rules)",
  properties: [
    fuzzProperty("ruleIssues: any rules array is judged, never thrown on", { budgetMs: 500 }, (b) =>
      fc.property(
        fc.oneof(mutatedJson(fc.array(rule, { maxLength: 3 })), fc.jsonValue({ maxDepth: 3 })),
        timed(b, (input) => {
          const issues = ruleIssues(input);
          if (!Array.isArray(issues)) throw new Error("ruleIssues must return a list");
        }),
      ),
    ),
    fuzzProperty(
      "runner: valid rules over any frames give well-formed hits, honouring cooldown",
      { budgetMs: 500, weight: 3 },
      (b) =>
        fc.property(
          rules,
          frames,
          timed(b, (rs, fs) => {
            const runner = new RuleRunner(rs);
            const byId = new Map(rs.map((r) => [r.id, r]));
            const lastHit = new Map<string, number>();
            let at = 1_700_000_000_000;
            for (const f of fs) {
              at += f.dtMs;
              const hits = runner.evaluate(
                f.source,
                { result: f.result, frame: { width: f.width, height: f.height }, labels: LABELS, okLabels: ["ok"] },
                at,
              );
              for (const h of hits) {
                checkHit(h, byId);
                const key = `${f.source}/${h.id}`;
                const prev = lastHit.get(key);
                const cooldownMs = (byId.get(h.id)!.cooldownS ?? 0) * 1000;
                if (prev !== undefined && at - prev < cooldownMs)
                  throw new Error(`rule ${h.id} hit within its cooldown`);
                lastHit.set(key, at);
              }
            }
          }),
        ),
    ),
    fuzzProperty("geometry: overlap shares stay in [0, 1]", { budgetMs: 500 }, (b) =>
      fc.property(
        rect,
        rect,
        polygon,
        timed(b, (r1, r2, poly) => {
          for (const v of [rectOverlapShare(r1, r2), rectInsideShare(r1, poly)]) {
            if (!(v >= 0 && v <= 1 + 1e-9)) throw new Error(`share ${v} outside [0, 1]`);
          }
        }),
      ),
    ),
  ],
};
