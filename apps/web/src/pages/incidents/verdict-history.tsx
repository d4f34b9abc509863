import type { Verdict } from "@kensa/contracts";
import { TimeAgo } from "../../ui";
import { verdictLabel } from "./incident-status";

/** Every decision on the incident, oldest first, with who and when (the audit trail people see). */
export function VerdictHistory({ verdicts, pendingId }: { verdicts: readonly Verdict[]; pendingId?: string }) {
  if (verdicts.length === 0) return <p className="muted">No verdict yet.</p>;
  return (
    <ol className="history" aria-label="Verdict history">
      {verdicts.map((v) => (
        <li key={v.id} className={v.id === pendingId ? "pending" : undefined}>
          <strong>{verdictLabel(v.verdict)}</strong>
          {v.labels.length > 0 ? <span> → {v.labels.join(", ")}</span> : null}
          <span className="muted">
            {" "}
            by <span data-testid="verdict-by">{v.by}</span> ·{" "}
            {v.id === pendingId ? "saving…" : <TimeAgo iso={v.createdAt} />}
          </span>
          {v.note ? <p className="history-note">{v.note}</p> : null}
        </li>
      ))}
    </ol>
  );
}
