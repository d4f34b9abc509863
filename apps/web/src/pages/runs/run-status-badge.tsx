import type { JobStatus } from "@kensa/contracts";
import { Badge, type Tone } from "../../ui";

const TONES: Record<JobStatus, Tone> = {
  queued: "neutral",
  running: "info",
  succeeded: "success",
  failed: "danger",
  cancelled: "warning",
};

export function RunStatusBadge({ status }: { status: JobStatus }) {
  return <Badge tone={TONES[status]}>{status}</Badge>;
}
