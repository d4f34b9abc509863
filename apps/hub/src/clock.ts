let last = 0;

/**
 * Now as ISO-8601 text, strictly increasing within the process, so rows written in the same
 * millisecond still sort in the order they were written (deployments, cooldown windows).
 */
export function isoNow(): string {
  const t = Math.max(Date.now(), last + 1);
  last = t;
  return new Date(t).toISOString();
}
