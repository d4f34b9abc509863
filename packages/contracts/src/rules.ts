import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Issue } from "./validate.js";

/**
 * Rules travel inside the bundle (`manifest.rules`), so the rules a device applies are
 * versioned, signed and rolled out with the model they were tuned for. The agent evaluates
 * them per frame and per source; a hit turns the event into an incident that names the rule.
 * Every optional field below carries its default in the schema's `default` annotation; the
 * agent applies them, so a rule written by hand may leave them out.
 */

const RuleId = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description: "unique within the bundle" });

/** [x, y] as fractions of the frame's width and height, origin top left */
export const ZonePoint = Type.Tuple([Type.Number({ minimum: 0, maximum: 1 }), Type.Number({ minimum: 0, maximum: 1 })]);
export type ZonePoint = Static<typeof ZonePoint>;

/**
 * A region of interest. A detection or region belongs to it when its box centre is inside the
 * polygon ("centre"), or when at least `minOverlap` of its box area is ("overlap").
 */
export const Zone = Type.Object(
  {
    /** vertices in order (either winding); the polygon closes itself */
    polygon: Type.Array(ZonePoint, { minItems: 3, maxItems: 64 }),
    inside: Type.Optional(Type.Union([Type.Literal("centre"), Type.Literal("overlap")], { default: "centre" })),
    /** "overlap" only: share of the box area, 0..1 */
    minOverlap: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.5 })),
  },
  { additionalProperties: false },
);
export type Zone = Static<typeof Zone>;

/** Condition true in at least `hits` of the last `frames` frames of the source (N-of-M). */
export const Debounce = Type.Object(
  {
    hits: Type.Integer({ minimum: 1, maximum: 1000 }),
    frames: Type.Integer({ minimum: 1, maximum: 1000 }),
  },
  { additionalProperties: false },
);
export type Debounce = Static<typeof Debounce>;

/** Keys every rule has: identity, and the temporal gates the runner applies after the condition. */
const common = {
  id: RuleId,
  /** shown on the incident */
  name: Type.String({ minLength: 1, maxLength: 200 }),
  debounce: Type.Optional(Debounce),
  /** ms the (debounced) condition must hold without interruption before it hits */
  dwellMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000, default: 0 })),
  /** s after a hit during which the rule raises no new hit for that source */
  cooldownS: Type.Optional(Type.Number({ minimum: 0, maximum: 86_400, default: 0 })),
};

/** The classes a rule looks at; every non-OK label of the bundle when omitted. */
const Labels = Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 256 });
/** a detection, region or class counts from this score on, 0..1 */
const MinScore = (dflt: number) => Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: dflt }));

/** A class scores at least `minScore` (classification: its score; else any detection or region of it). */
export const ThresholdRule = Type.Object(
  {
    ...common,
    type: Type.Literal("threshold"),
    labels: Type.Optional(Labels),
    minScore: MinScore(0.5),
    zone: Type.Optional(Zone),
    /** classification: only the top class counts (a project's incident rule), not every class score */
    topClassOnly: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);
export type ThresholdRule = Static<typeof ThresholdRule>;

/** A detection box or region of these classes covers at least `minArea` px² of the original frame. */
export const MinAreaRule = Type.Object(
  {
    ...common,
    type: Type.Literal("min-area"),
    labels: Type.Optional(Labels),
    /** px² of the original frame (regions: their pixel area; detections: box width × height) */
    minArea: Type.Number({ minimum: 0 }),
    minScore: MinScore(0),
    zone: Type.Optional(Zone),
  },
  { additionalProperties: false },
);
export type MinAreaRule = Static<typeof MinAreaRule>;

/** Any object of these classes in the zone (or the frame) is a hit: intrusion, a part on the floor. */
export const ForbiddenClassRule = Type.Object(
  {
    ...common,
    type: Type.Literal("forbidden-class"),
    labels: Labels,
    minScore: MinScore(0.5),
    zone: Type.Optional(Zone),
  },
  { additionalProperties: false },
);
export type ForbiddenClassRule = Static<typeof ForbiddenClassRule>;

/**
 * Without `subjects`: the zone (or the frame) must show at least one object of `labels`.
 * With `subjects` (PPE): every subject in the zone must be overlapped by an object of `labels`
 * — at least `minOverlap` of that object's box inside the subject's box; a `person` without a
 * `helmet` is a hit.
 */
export const RequiredClassRule = Type.Object(
  {
    ...common,
    type: Type.Literal("required-class"),
    labels: Labels,
    subjects: Type.Optional(Labels),
    minScore: MinScore(0.5),
    /** share of the required object's box inside the subject's box, 0..1 */
    minOverlap: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.5 })),
    zone: Type.Optional(Zone),
  },
  { additionalProperties: false },
);
export type RequiredClassRule = Static<typeof RequiredClassRule>;

/**
 * Objects of these classes per frame, summed over the frames of the last `windowS` seconds:
 * a hit when the sum reaches `atLeast`, or (once a whole window was seen) stays at or below
 * `atMost`. Counting line crossings (tracking) is out of scope.
 */
export const CountRule = Type.Object(
  {
    ...common,
    type: Type.Literal("count"),
    labels: Type.Optional(Labels),
    minScore: MinScore(0.5),
    zone: Type.Optional(Zone),
    windowS: Type.Number({ exclusiveMinimum: 0, maximum: 86_400 }),
    atLeast: Type.Optional(Type.Integer({ minimum: 1 })),
    atMost: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type CountRule = Static<typeof CountRule>;

/** Rule schemas keyed by `type`; each is validated on its own so errors name the exact key. */
export const ruleSchemas = {
  threshold: ThresholdRule,
  "min-area": MinAreaRule,
  "forbidden-class": ForbiddenClassRule,
  "required-class": RequiredClassRule,
  count: CountRule,
} as const satisfies Record<string, TSchema>;

export type RuleType = keyof typeof ruleSchemas;
export const Rule = Type.Union(Object.values(ruleSchemas));
export type Rule = { [K in RuleType]: Static<(typeof ruleSchemas)[K]> }[RuleType];
/** The rule of one `type`. */
export type RuleOf<T extends RuleType> = Extract<Rule, { type: T }>;

/** One rule that hit on a frame, as the event carries it. */
export const RuleHit = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  hit: Type.Literal(true),
  /** the class and score that stand for the hit (the incident's label and score) */
  label: Type.Optional(Type.String()),
  score: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  /** what the evaluator saw: matched boxes, counts, the window … (rule-type specific) */
  detail: Type.Record(Type.String(), Type.Unknown()),
});
export type RuleHit = Static<typeof RuleHit>;

/**
 * Issues of a rules array, each checked against the schema of its own `type` (so paths point
 * into the rule rather than at "no union member matched"), plus what the schema cannot say:
 * unique ids, a count rule needs a bound, debounce hits ≤ frames. Paths start at `prefix`.
 */
export function ruleIssues(rules: unknown, prefix = "/rules"): Issue[] {
  if (!Array.isArray(rules)) return [{ path: prefix, message: "expected an array of rules" }];
  const issues: Issue[] = [];
  const ids = new Set<string>();
  rules.forEach((rule, i) => {
    const at = `${prefix}/${i}`;
    const type = rule && typeof rule === "object" ? (rule as { type?: unknown }).type : undefined;
    if (typeof type !== "string" || !Object.hasOwn(ruleSchemas, type)) {
      issues.push({ path: `${at}/type`, message: `expected one of ${Object.keys(ruleSchemas).join(", ")}` });
      return;
    }
    const schema = ruleSchemas[type as RuleType];
    for (const e of Value.Errors(schema, rule)) issues.push({ path: `${at}${e.path}`, message: e.message });
    const r = rule as Partial<Rule>;
    if (typeof r.id === "string") {
      if (ids.has(r.id)) issues.push({ path: `${at}/id`, message: `duplicate rule id "${r.id}"` });
      ids.add(r.id);
    }
    if (r.debounce && r.debounce.hits > r.debounce.frames) {
      issues.push({ path: `${at}/debounce/hits`, message: "must not exceed debounce.frames" });
    }
    if (r.type === "count" && r.atLeast === undefined && r.atMost === undefined) {
      issues.push({ path: `${at}`, message: "a count rule needs atLeast or atMost" });
    }
  });
  return issues;
}
