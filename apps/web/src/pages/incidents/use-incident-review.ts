import { type CreateVerdict, type Incident, incidentRoutes, type Verdict, type VerdictKind } from "@kensa/contracts";
import { useState } from "react";
import { hub } from "../../api/client";
import { useUser } from "../../auth";
import { useToast } from "../../ui";
import { statusAfter, verdictLabel } from "./incident-status";

export const PENDING_VERDICT_ID = "pending";

/**
 * Acknowledge and verdict actions with optimistic updates: the page shows the new status at
 * once (a phone on a factory Wi-Fi can take seconds) and rolls back, with the error code in a
 * toast, when the hub refuses.
 */
export function useIncidentReview(incident: Incident | undefined, onSaved: (i: Incident) => void) {
  const user = useUser();
  const toast = useToast();
  const [optimistic, setOptimistic] = useState<Incident | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (next: Incident, call: () => Promise<unknown>, done: string, failed: string) => {
    if (!incident) return;
    setBusy(true);
    setOptimistic(next);
    try {
      await call();
      onSaved(await hub.call(incidentRoutes.get, { params: { id: incident.id } }));
      toast.success(done);
    } catch (err) {
      toast.error(err, failed);
    } finally {
      setOptimistic(null);
      setBusy(false);
    }
  };

  const acknowledge = () => {
    if (!incident) return;
    void run(
      { ...incident, status: "acknowledged" },
      () => hub.call(incidentRoutes.acknowledge, { params: { id: incident.id } }),
      "Acknowledged",
      "Could not acknowledge",
    );
  };

  const decide = (verdict: VerdictKind, labels?: string[], note?: string) => {
    if (!incident) return;
    const body: CreateVerdict = {
      // no `by`: the hub records the signed-in user and ignores a name sent along
      verdict,
      ...(labels?.length ? { labels } : {}),
      ...(note ? { note } : {}),
    };
    const pending: Verdict = {
      id: PENDING_VERDICT_ID,
      incidentId: incident.id,
      verdict,
      labels: labels ?? [],
      note: note || null,
      by: user.displayName || user.username,
      createdAt: new Date().toISOString(),
    };
    void run(
      { ...incident, status: statusAfter(verdict), verdicts: [...incident.verdicts, pending] },
      () => hub.call(incidentRoutes.createVerdict, { params: { id: incident.id }, body }),
      `Saved: ${verdictLabel(verdict)}`,
      "Verdict not saved",
    );
  };

  return { shown: optimistic ?? incident, busy, acknowledge, decide };
}
