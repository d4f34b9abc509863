import { compile, OTHER_LABEL, SHADOW_AGREEMENT_LIMITS, ShadowAgreement } from "@kensa/contracts";

const checkAgreement = compile(ShadowAgreement);

/** A pipeline's agreement the hub would not keep, and why. */
export interface AgreementRefusal {
  pipeline: string;
  reason: string;
}

/** Agreements refused since the hub started (the rest of their reported state was kept). */
const counters = { clamped: 0, refused: 0 };

/** What the intake clamped and refused since the hub started. */
export function shadowIntakeCounters(): Readonly<typeof counters> {
  return { ...counters };
}

/**
 * Screens `pipelines[].shadowAgreement` of a parsed reported-state message in place, before the
 * message is validated: an agreement is a figure among others, and one that is malformed must
 * not cost the device its whole reported state (status, errors, self-tests). `byLabel` past the
 * contract's bounds is clamped (the labels with fewest frames folded into OTHER_LABEL, overlong
 * keys too) and an agreement still invalid, or inconsistent (more agreeing frames than frames),
 * is removed. Returns the removals; anything that is not a reported state is left to the
 * validation that follows.
 */
export function screenShadowAgreements(body: unknown): AgreementRefusal[] {
  const refusals: AgreementRefusal[] = [];
  if (!isObject(body) || !Array.isArray(body.pipelines)) return refusals;
  for (const p of body.pipelines) {
    if (!isObject(p) || !("shadowAgreement" in p)) continue;
    const value = p.shadowAgreement;
    delete p.shadowAgreement;
    const pipeline = typeof p.id === "string" ? p.id.slice(0, 128) : "?";
    const clamped = clampByLabel(value);
    if (clamped !== value) counters.clamped++;
    const reason = whyInvalid(clamped);
    if (reason) {
      counters.refused++;
      refusals.push({ pipeline, reason });
    } else p.shadowAgreement = clamped;
  }
  return refusals;
}

function whyInvalid(v: unknown): string | null {
  if (!checkAgreement.check(v)) {
    const first = checkAgreement.issues(v)[0];
    return `shadowAgreement${first?.path ?? ""}: ${first?.message ?? "invalid"}`;
  }
  if (v.agree > v.frames) return "shadowAgreement: more agreeing frames than frames";
  if (v.captures > v.frames) return "shadowAgreement: more captures than frames";
  for (const [label, c] of Object.entries(v.byLabel))
    if (c.agree > c.frames) return `shadowAgreement/byLabel/${label}: more agreeing frames than frames`;
  return null;
}

/** `byLabel` within the contract's bounds, or the value itself when it needs no change (or is beyond repair). */
function clampByLabel(v: unknown): unknown {
  if (!isObject(v) || !isObject(v.byLabel)) return v;
  const entries = Object.entries(v.byLabel);
  const { labels, labelChars } = SHADOW_AGREEMENT_LIMITS;
  if (entries.length <= labels && entries.every(([k]) => k.length <= labelChars)) return v;
  const counts = (x: unknown): { frames: number; agree: number } | null =>
    isObject(x) && isCount(x.frames) && isCount(x.agree) ? { frames: x.frames, agree: x.agree } : null;
  const kept: Array<[string, { frames: number; agree: number }]> = [];
  const other = { frames: 0, agree: 0 };
  for (const [k, x] of entries) {
    const c = counts(x);
    // a malformed entry is left for the validation to refuse: clamping never hides bad data
    if (!c) return v;
    if (k.length > labelChars || k === OTHER_LABEL) {
      other.frames += c.frames;
      other.agree += c.agree;
    } else kept.push([k, c]);
  }
  kept.sort((a, b) => b[1].frames - a[1].frames);
  for (const [, c] of kept.splice(labels - 1)) {
    other.frames += c.frames;
    other.agree += c.agree;
  }
  const byLabel = Object.fromEntries(kept);
  if (other.frames > 0 || other.agree > 0) byLabel[OTHER_LABEL] = other;
  return { ...v, byLabel };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}
