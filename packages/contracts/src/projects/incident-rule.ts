import type { ModelManifest } from "../manifest.js";
import type { ThresholdRule } from "../rules.js";
import type { IncidentRule } from "./schemas.js";

/** The id of the rule a deployment writes into a bundle from its project's incident rule. */
export const PROJECT_RULE_ID = "project-rule";

/**
 * The project's incident rule as the bundle rule the agent evaluates. "Is this worth a person?"
 * is decided once, on the device: the agent's verdict sets `finding`, which decides whether the
 * frame is kept and uploaded, and the hub raises an incident exactly for those events. Null when
 * no label of the model can fire the rule.
 */
export function projectBundleRule(
  rule: IncidentRule,
  project: { okLabels: readonly string[] },
  manifest: Pick<ModelManifest, "labels" | "okLabels" | "task">,
): ThresholdRule | null {
  const watched =
    rule.labels.length > 0
      ? manifest.labels.filter((l) => rule.labels.includes(l))
      : manifest.labels.filter((l) => !project.okLabels.includes(l));
  if (watched.length === 0) return null;
  // a rule lists at most 256 labels: a model with more finding labels, all watched, is watched
  // by leaving them out (the rule's default, every label of the bundle that is not OK)
  const findings = manifest.labels.filter((l) => !manifest.okLabels.includes(l));
  const whole =
    watched.length > 256 && watched.length === findings.length && watched.every((l, i) => l === findings[i]);
  const bound = ` ≥ ${rule.minScore.toFixed(2)}`;
  const listed = `threshold: ${watched.join(", ")}${bound}`;
  return {
    id: PROJECT_RULE_ID,
    // a rule's name is at most 200 characters; labels may be 64 each
    name: listed.length <= 200 ? listed : `threshold: ${watched.length} finding labels${bound}`,
    type: "threshold",
    ...(whole ? {} : { labels: watched }),
    minScore: rule.minScore,
    // the hub judged a classification by its chosen class, not every class score
    ...(manifest.task === "classification" ? { topClassOnly: true } : {}),
  };
}

/**
 * The manifest a deployment ships: the model's own, with the project's incident rule compiled
 * in when the model brings no rules of its own (a model's rules, tuned with it, win).
 */
export function withProjectRule(
  manifest: ModelManifest,
  rule: IncidentRule,
  project: { okLabels: readonly string[] },
): ModelManifest {
  if (manifest.rules && manifest.rules.length > 0) return manifest;
  const compiled = projectBundleRule(rule, project, manifest);
  return compiled ? { ...manifest, rules: [compiled] } : manifest;
}
