import { type AuditVerifyReport, peopleRoutes } from "@kensa/contracts";
import { useState } from "react";
import { hub } from "../../api/client";
import { Badge, Button, useToast } from "../../ui";

/** Checks the log's hash chain and anchors on request (the same check as `kensa audit verify`). */
export function ChainCheck() {
  const toast = useToast();
  const [report, setReport] = useState<AuditVerifyReport | null>(null);
  const [busy, setBusy] = useState(false);

  const verify = async () => {
    setBusy(true);
    try {
      setReport(await hub.call(peopleRoutes.auditVerify, {}));
    } catch (err) {
      toast.error(err, "Could not verify the audit log");
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="chain-check">
      <Button onClick={() => void verify()} busy={busy}>
        Verify the chain
      </Button>
      <span role="status">
        {report === null ? null : report.problem ? (
          <>
            <Badge tone="danger">broken</Badge> entry {report.problem.seq} ({report.problem.fault}):{" "}
            {report.problem.message}
          </>
        ) : (
          <>
            <Badge tone="success">intact</Badge> {report.entries} entries
            {report.lastAnchor
              ? `, last anchored at entry ${report.lastAnchor.seq} (${new Date(report.lastAnchor.at).toLocaleString()})`
              : ", not anchored yet"}
          </>
        )}
      </span>
    </div>
  );
}
