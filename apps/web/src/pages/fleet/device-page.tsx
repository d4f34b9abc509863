import { type Device, fleetRoutes, type ReportedPipeline } from "@kensa/contracts";
import type { ReactNode } from "react";
import { Link, useParams } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { Badge, Card, type Column, DataTable, ErrorState, Facts, Loading, Page, TimeAgo } from "../../ui";
import { DeviceConfigCard } from "./device-config-card";
import { CredentialActions } from "./device-credentials";
import { CredentialBadges, DeliveryDetails } from "./device-delivery";
import { DeviceEditAction } from "./device-edit";
import { LifecycleActions } from "./device-lifecycle";
import { type ModelNames, PipelineBadge, PresenceBadge, shortSha } from "./device-status";
import { LiveFrame } from "./live-frame";
import { SelfTestCell } from "./self-test-badge";
import { TelemetryPanel } from "./telemetry-chart";
import { recordTelemetry } from "./telemetry-history";
import { FLEET_POLL_MS } from "./use-devices";
import { useModels } from "./use-model-names";

export function DevicePage() {
  const { id = "" } = useParams();
  const q = useQuery(fleetRoutes.get, { params: { id } }, { intervalMs: FLEET_POLL_MS });
  // during render, not in an effect, so the chart below includes this poll; idempotent per telemetry ts
  if (q.data) recordTelemetry([q.data]);
  const back = <Link to="/fleet">← Fleet</Link>;
  if (q.error && !q.data)
    return (
      <Page title={id} back={back}>
        <ErrorState error={q.error} onRetry={q.reload} />
      </Page>
    );
  if (!q.data)
    return (
      <Page title={id} back={back}>
        <Loading />
      </Page>
    );
  return <DeviceView device={q.data} back={back} onChanged={q.setData} />;
}

function DeviceView({ device: d, back, onChanged }: { device: Device; back: ReactNode; onChanged(d: Device): void }) {
  const { names } = useModels(d.projectId);
  const canManage = useCan("devices:manage");
  const t = d.telemetry;
  const r = d.reported;
  return (
    <Page
      title={d.name || d.id}
      subtitle={
        <>
          {d.retiredAt ? (
            <Badge tone="neutral" title={`retired ${new Date(d.retiredAt).toLocaleString()}`}>
              retired
            </Badge>
          ) : (
            <PresenceBadge presence={d.presence} />
          )}{" "}
          · last seen <TimeAgo iso={d.lastSeenAt} /> <CredentialBadges device={d} />
        </>
      }
      back={back}
      actions={
        <>
          <Link to={`/incidents?device=${encodeURIComponent(d.id)}`}>Incidents of this device</Link>
          {canManage ? (
            <>
              <DeviceEditAction device={d} onChanged={onChanged} />
              {d.retiredAt ? null : <CredentialActions device={d} onChanged={onChanged} />}
              <LifecycleActions device={d} onChanged={onChanged} />
            </>
          ) : null}
        </>
      }
    >
      <div className="grid-2">
        <div className="stack">
          <Card title="Event delivery">
            <DeliveryDetails device={d} />
          </Card>
          <Card title="Latest frame">
            <LiveFrame deviceId={d.id} online={d.presence === "online"} />
          </Card>
          <Card title="Telemetry">
            <TelemetryPanel deviceId={d.id} />
            {t ? (
              <Facts
                items={[
                  ["fps", t.fps.toFixed(1)],
                  ["latency p50", `${Math.round(t.latencyMs.p50)} ms`],
                  ["latency p95", `${Math.round(t.latencyMs.p95)} ms`],
                  ["frames", t.framesTotal.toLocaleString()],
                  ["dropped", t.framesDropped.toLocaleString()],
                  ["outbox", String(t.outboxDepth)],
                  ["media queue", String(t.mediaQueueDepth)],
                ]}
              />
            ) : (
              <p className="muted">No telemetry yet.</p>
            )}
          </Card>
        </div>
        <div className="stack">
          <Card title="Device">
            <Facts
              items={[
                [
                  "id",
                  <span className="mono" key="id">
                    {d.id}
                  </span>,
                ],
                ["description", d.description ?? "—"],
                ["architecture", d.arch ?? r?.arch ?? "—"],
                ["platform", r?.platform ?? "—"],
                ["agent", r?.agentVersion ?? "—"],
                [
                  "tags",
                  d.tags.length ? (
                    <span className="row" key="tags">
                      {d.tags.map((x) => (
                        <Badge key={x}>{x}</Badge>
                      ))}
                    </span>
                  ) : (
                    "—"
                  ),
                ],
                ["desired rev", `${d.desiredRev}${r ? ` (applied ${r.desiredRev})` : ""}`],
                ["enrolled", new Date(d.createdAt).toLocaleDateString()],
                ...(d.retiredAt
                  ? ([["retired", new Date(d.retiredAt).toLocaleString()]] as Array<[string, string]>)
                  : []),
              ]}
            />
          </Card>
          <Card title="Pipelines (reported)">
            <DataTable
              label="Pipelines"
              rows={r?.pipelines ?? []}
              rowKey={(p) => p.id}
              columns={pipelineColumns(names)}
              empty="The agent has reported no pipeline yet."
            />
          </Card>
          <Card title="Sources">
            <DataTable
              label="Sources"
              rows={r?.sources ?? []}
              rowKey={(s) => s.id}
              empty="No source reported."
              columns={[
                { header: "Source", cell: (s) => s.id },
                { header: "Type", cell: (s) => s.type },
                {
                  header: "Status",
                  cell: (s) =>
                    s.error ? (
                      <Badge tone="danger" title={s.error.message}>
                        {s.error.code}
                      </Badge>
                    ) : (
                      <Badge tone={s.status === "running" ? "success" : "neutral"}>{s.status}</Badge>
                    ),
                },
              ]}
            />
          </Card>
          <DeviceConfigCard deviceId={d.id} />
        </div>
      </div>
    </Page>
  );
}

function pipelineColumns(models: ModelNames): Array<Column<ReportedPipeline>> {
  return [
    { header: "Pipeline", cell: (p) => p.id },
    { header: "Status", cell: (p) => <PipelineBadge pipeline={p} /> },
    {
      header: "Model",
      cell: (p) =>
        p.bundle ? (
          <span title={`bundle ${p.bundle.sha256}`}>
            {models.get(p.bundle.modelVersionId) ?? p.bundle.modelVersionId}{" "}
            <span className="muted mono">{shortSha(p.bundle.sha256)}</span>
          </span>
        ) : (
          "—"
        ),
    },
    { header: "Self-test", cell: (p) => <SelfTestCell pipeline={p} /> },
    {
      header: "Last error",
      cell: (p) =>
        p.error ? (
          <span>
            <Badge tone="danger">{p.error.code}</Badge> <span className="muted">{p.error.message}</span>
          </span>
        ) : (
          "—"
        ),
    },
  ];
}
