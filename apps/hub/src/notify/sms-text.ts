import type { Incident, Severity } from "@kensa/contracts";

/** What an SMS says about an incident. */
export interface SmsFacts {
  severity: Severity;
  project: string;
  incident: Pick<Incident, "label" | "score" | "deviceId">;
  url: string;
}

/** The first `max` code points of `s` (never half of a surrogate pair). */
export function truncateCodePoints(s: string, max: number): string {
  const points = Array.from(s);
  if (points.length <= max) return s;
  if (max <= 0) return "";
  return `${points.slice(0, max - 1).join("")}…`;
}

/**
 * One short message: "CRITICAL line-1: crack 0.97 on cam-3 https://hub/incidents/inc_…". When
 * it runs past `max` code points, the words are cut, never the link (a cut link is useless).
 */
export function smsText(f: SmsFacts, max: number): string {
  const head = `${f.severity.toUpperCase()} ${f.project}: ${f.incident.label} ${f.incident.score.toFixed(2)} on ${f.incident.deviceId}`;
  return fitWithLink(head, f.url, max);
}

/** "<head> <url>" in at most `max` code points: the words are cut, never the link. */
export function fitWithLink(head: string, url: string, max: number): string {
  const full = `${head} ${url}`;
  if (Array.from(full).length <= max) return full;
  const room = max - Array.from(url).length - 1;
  // a link that leaves no room for words still goes out whole: it is what the reader needs
  if (room < 12) return truncateCodePoints(url, Math.max(max, Array.from(url).length));
  return `${truncateCodePoints(head, room)} ${url}`;
}
