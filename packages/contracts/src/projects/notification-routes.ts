import type { Incident } from "../incidents/schemas.js";
import type { NotificationChannel, QuietHours, Severity, SeverityScale } from "./notification-routing.js";
import type { NotificationRouting } from "./schemas.js";

const DEFAULT_SCALE: SeverityScale = { critical: 0.9, major: 0.7, labels: {} };

/** The incident's severity under the project's scale (labels listed first, then the score). */
export function severityOf(incident: Pick<Incident, "label" | "score">, routing: NotificationRouting): Severity {
  const scale = { ...DEFAULT_SCALE, ...routing.severity };
  const byLabel = scale.labels[incident.label];
  if (byLabel) return byLabel;
  if (incident.score >= scale.critical) return "critical";
  if (incident.score >= scale.major) return "major";
  return "minor";
}

/** The channels that hear of this incident: every one without routes, else those of matching routes. */
export function channelsFor(
  incident: Pick<Incident, "label" | "score" | "rule">,
  routing: NotificationRouting,
): Set<NotificationChannel> {
  if (!routing.routes) return new Set(["email", "webhook", "sms"]);
  const severity = severityOf(incident, routing);
  const out = new Set<NotificationChannel>();
  for (const r of routing.routes) {
    if (r.severities && !r.severities.includes(severity)) continue;
    if (r.labels && !r.labels.includes(incident.label)) continue;
    if (r.rules && !r.rules.includes(incident.rule)) continue;
    for (const c of r.channels) out.add(c);
  }
  return out;
}

export interface RoutingIssue {
  path: string;
  message: string;
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function quietIssues(q: QuietHours | undefined, path: string): RoutingIssue[] {
  if (!q) return [];
  const out: RoutingIssue[] = [];
  if (!validTimeZone(q.timeZone)) out.push({ path: `${path}/timeZone`, message: `"${q.timeZone}" is not a time zone` });
  if (q.start === q.end) out.push({ path: `${path}/end`, message: "must differ from start" });
  return out;
}

/**
 * What the schema cannot say about a routing: names of labels the project lacks, routes to a
 * channel with no one on it, quiet hours in an unknown zone, a gateway missing what its
 * adapter needs. Paths are under `/notifications`.
 */
export function routingIssues(routing: NotificationRouting, labels: readonly string[]): RoutingIssue[] {
  const known = new Set(labels);
  const out: RoutingIssue[] = [];
  const base = "/notifications";
  const scale = routing.severity;
  if (scale) {
    if (scale.major > scale.critical) out.push({ path: `${base}/severity/major`, message: "must not exceed critical" });
    for (const l of Object.keys(scale.labels ?? {})) {
      if (!known.has(l))
        out.push({ path: `${base}/severity/labels/${l}`, message: `"${l}" is not one of the project's labels` });
    }
  }
  const has: Record<NotificationChannel, boolean> = {
    email: routing.email.length > 0,
    webhook: routing.webhooks.length > 0,
    sms: !!routing.sms,
  };
  (routing.routes ?? []).forEach((r, i) => {
    r.labels?.forEach((l, j) => {
      if (!known.has(l)) {
        out.push({ path: `${base}/routes/${i}/labels/${j}`, message: `"${l}" is not one of the project's labels` });
      }
    });
    r.channels.forEach((c, j) => {
      if (!has[c]) out.push({ path: `${base}/routes/${i}/channels/${j}`, message: `no ${c} target is configured` });
    });
  });
  const sms = routing.sms;
  if (sms) {
    const g = sms.gateway;
    const isObject = !!g.template && typeof g.template === "object" && !Array.isArray(g.template);
    if (g.adapter === "template" && !isObject) {
      out.push({ path: `${base}/sms/gateway/template`, message: "a JSON object is required by the template adapter" });
    }
    if (g.adapter !== "template" && g.template !== undefined) {
      out.push({ path: `${base}/sms/gateway/template`, message: "only the template adapter takes a template" });
    }
    if (g.adapter === "twilio" && g.auth.type !== "basic") {
      out.push({ path: `${base}/sms/gateway/auth`, message: "twilio takes basic auth (account SID and auth token)" });
    }
    out.push(...quietIssues(sms.quietHours, `${base}/sms/quietHours`));
    const seen = new Set<string>();
    sms.recipients.forEach((r, i) => {
      if (seen.has(r.phone)) out.push({ path: `${base}/sms/recipients/${i}/phone`, message: "listed twice" });
      seen.add(r.phone);
      out.push(...quietIssues(r.quietHours, `${base}/sms/recipients/${i}/quietHours`));
    });
  }
  return out;
}
