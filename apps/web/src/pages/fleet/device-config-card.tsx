import { type DeviceConfigView, deviceConfigRoutes, type ReportedConfig } from "@kensa/contracts";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { Badge, Card, ErrorState, Facts, Loading, type Tone } from "../../ui";
import { DeviceConfigEditor } from "./device-config-editor";
import { shortSha } from "./device-status";
import { FLEET_POLL_MS } from "./use-devices";

const statusTone: Record<ReportedConfig["status"], Tone> = { local: "neutral", applied: "success", rejected: "danger" };

/**
 * The device's remote config (docs/agent.md, "Remote configuration"): the revision the hub sends
 * against the one the agent runs, why the agent refused one, and the config as sent.
 */
export function DeviceConfigCard({ deviceId }: { deviceId: string }) {
  const q = useQuery(deviceConfigRoutes.getDeviceConfig, { params: { id: deviceId } }, { intervalMs: FLEET_POLL_MS });
  const canManage = useCan("devices:manage");
  return (
    <Card title="Remote config">
      {canManage && q.data ? <DeviceConfigEditor view={q.data} onSaved={q.setData} /> : null}
      {q.error && !q.data ? <ErrorState error={q.error} onRetry={q.reload} /> : null}
      {!q.data && !q.error ? <Loading /> : null}
      {q.data ? <ConfigDetails view={q.data} /> : null}
    </Card>
  );
}

function ConfigDetails({ view: v }: { view: DeviceConfigView }) {
  const a = v.applied;
  const d = v.delivered;
  const inSync = d && a ? a.rev === d.rev && a.status === "applied" : !d;
  return (
    <div className="stack" data-testid="device-config">
      <Facts
        items={[
          [
            "desired rev",
            d ? (
              <span key="desired">
                {d.rev} <span className="muted mono">{shortSha(d.sha256)}</span>
              </span>
            ) : (
              "none (agent.json alone)"
            ),
          ],
          [
            "applied rev",
            a ? (
              <span className="row" key="applied">
                {a.rev || "—"}{" "}
                <Badge tone={inSync ? statusTone[a.status] : "warning"}>
                  {inSync ? a.status : `${a.status}, not in sync`}
                </Badge>
              </span>
            ) : (
              "not reported"
            ),
          ],
          [
            "device's own",
            v.device ? `rev ${v.device.rev}${v.device.comment ? ` — ${v.device.comment}` : ""}` : "none",
          ],
          ["project default", v.project ? `rev ${v.project.rev}` : "none"],
          ...(a?.overridden?.length ? [["pinned on the device", a.overridden.join(", ")] as [string, string]] : []),
          ...(a?.restarted?.length ? [["restarted for", a.restarted.join(", ")] as [string, string]] : []),
        ]}
      />
      {a?.error ? (
        <div data-testid="device-config-error">
          <Badge tone="danger">{a.error.code}</Badge> <span className="muted">{a.error.message}</span>
          {a.error.issues?.length ? (
            <ul>
              {a.error.issues.map((i) => (
                <li key={i.path}>
                  <span className="mono">{i.path}</span>: {i.message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      {d ? <pre className="mono">{JSON.stringify(d.config, null, 2)}</pre> : null}
    </div>
  );
}
