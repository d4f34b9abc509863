import type { Device } from "@kensa/contracts";
import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useCan } from "../../auth";
import { useProject } from "../../project";
import { Badge, Button, type Column, DataTable, ErrorState, Loading, Page, TimeAgo } from "../../ui";
import { CredentialBadges, EventSeqSummary } from "./device-delivery";
import { LoadedBundles, type ModelNames, PresenceBadge } from "./device-status";
import { EnrollDialog } from "./enroll-dialog";
import { Sparkline } from "./sparkline";
import { type FleetTelemetryLines, useFleetTelemetry } from "./telemetry-history";
import { useDevices } from "./use-devices";
import { useModels } from "./use-model-names";

/** The fleet: every device's presence, what it runs and how fast, refreshed every few seconds. */
export function FleetPage() {
  const { project } = useProject();
  const canManage = useCan("devices:manage");
  const devices = useDevices(project?.id);
  const { names } = useModels(project?.id);
  const telemetry = useFleetTelemetry(project?.id);
  const navigate = useNavigate();
  const [enrolling, setEnrolling] = useState(false);
  const items = devices.data?.items ?? [];
  const online = items.filter((d) => d.presence === "online").length;

  return (
    <Page
      title="Fleet"
      subtitle={devices.data ? `${online} of ${items.length} online` : undefined}
      actions={
        canManage ? (
          <Button variant="primary" onClick={() => setEnrolling(true)}>
            Enroll device
          </Button>
        ) : null
      }
    >
      {devices.error && !devices.data ? (
        <ErrorState error={devices.error} onRetry={devices.reload} />
      ) : !devices.data ? (
        <Loading label="Loading devices" />
      ) : (
        <DataTable
          label="Devices"
          rows={items}
          rowKey={(d) => d.id}
          columns={columns(names, telemetry)}
          // one card per device on a phone, every column named, nothing to scroll sideways
          cards
          onRowClick={(d) => navigate(`/fleet/${d.id}`)}
          empty={canManage ? "No devices yet. Enroll one to start." : "No devices yet."}
        />
      )}
      {canManage ? (
        <EnrollDialog open={enrolling} onClose={() => setEnrolling(false)} onEnrolled={devices.reload} />
      ) : null}
    </Page>
  );
}

/** `telemetry.pointsOf`: a device's trend line, the hub's last hour then its newest live sample */
function columns(models: ModelNames, telemetry: FleetTelemetryLines): Array<Column<Device>> {
  const { pointsOf } = telemetry;
  const loading = !telemetry.loaded && !telemetry.error;
  return [
    {
      header: "Device",
      cell: (d) => (
        <div>
          <Link to={`/fleet/${d.id}`} onClick={(e) => e.stopPropagation()}>
            <strong>{d.name || d.id}</strong>
          </Link>
          {d.name && d.name !== d.id ? <div className="muted mono">{d.id}</div> : null}
        </div>
      ),
    },
    {
      header: "Presence",
      cell: (d) => (
        <span className="row">
          <PresenceBadge presence={d.presence} />
          <CredentialBadges device={d} />
        </span>
      ),
    },
    { header: "Arch", cell: (d) => d.arch ?? d.reported?.arch ?? "—", hideOnMobile: true },
    {
      header: "Tags",
      hideOnMobile: true,
      cell: (d) => (
        <span className="row">
          {d.tags.map((t) => (
            <Badge key={t}>{t}</Badge>
          ))}
        </span>
      ),
    },
    { header: "Model", cell: (d) => <LoadedBundles device={d} models={models} /> },
    { header: "Events", cell: (d) => <EventSeqSummary device={d} /> },
    {
      // on a phone too: a device that slows down is what someone walking the line wants to see
      header: "FPS",
      cell: (d) => (
        <Sparkline points={pointsOf(d.id)} metric="fps" color="#2563eb" label={`fps of ${d.id}`} loading={loading} />
      ),
    },
    {
      header: "Latency p95",
      hideOnMobile: true,
      cell: (d) => (
        <Sparkline
          points={pointsOf(d.id)}
          metric="p95"
          color="#d97706"
          label={`p95 latency of ${d.id}`}
          loading={loading}
        />
      ),
    },
    { header: "Last seen", cell: (d) => <TimeAgo iso={d.lastSeenAt} />, hideOnMobile: true },
  ];
}
