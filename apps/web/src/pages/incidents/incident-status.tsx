import type { IncidentStatus, VerdictKind } from "@kensa/contracts";
import { Badge, type Tone } from "../../ui";

const statusInfo: Record<IncidentStatus, { label: string; tone: Tone }> = {
  open: { label: "Open", tone: "danger" },
  acknowledged: { label: "Acknowledged", tone: "warning" },
  confirmed: { label: "Confirmed", tone: "info" },
  false_alarm: { label: "False alarm", tone: "success" },
  relabeled: { label: "Relabeled", tone: "neutral" },
};

export const incidentStatuses = Object.keys(statusInfo) as IncidentStatus[];

export function statusLabel(s: IncidentStatus): string {
  return statusInfo[s].label;
}

export function StatusBadge({ status }: { status: IncidentStatus }) {
  const info = statusInfo[status];
  return <Badge tone={info.tone}>{info.label}</Badge>;
}

/** The status an incident takes once a verdict of this kind is recorded. */
export function statusAfter(verdict: VerdictKind): IncidentStatus {
  return verdict === "relabel" ? "relabeled" : verdict;
}

export function verdictLabel(v: VerdictKind): string {
  return v === "confirmed" ? "Confirmed" : v === "false_alarm" ? "False alarm" : "Relabeled";
}

/** Scores as people read them: 0.873 → "87%". */
export function pct(score: number): string {
  return `${Math.round(score * 100)}%`;
}
