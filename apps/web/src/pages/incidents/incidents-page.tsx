import { federationRoutes, fleetRoutes, type Incident, type IncidentStatus, incidentRoutes } from "@kensa/contracts";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { useProject } from "../../project";
import { Badge, EmptyState, ErrorState, Field, Loading, Page } from "../../ui";
import { IncidentCard } from "./incident-card";
import { incidentStatuses, statusLabel } from "./incident-status";
import { type StreamStatus, useIncidentStream } from "./use-incident-stream";

/** ms a newly arrived incident stays highlighted */
const FRESH_MS = 6000;
const LIMIT = 100;

/** The live incident list: filtered by project, device and status; new ones slide in at the top. */
export function IncidentsPage() {
  const { project } = useProject();
  const [params, setParams] = useSearchParams();
  const deviceId = params.get("device") ?? "";
  const status = (params.get("status") ?? "") as IncidentStatus | "";
  const siteId = params.get("site") ?? "";
  const query = useMemo(
    () => ({ projectId: project?.id, deviceId: deviceId || undefined, status: status || undefined }),
    [project?.id, deviceId, status],
  );
  const list = useQuery(incidentRoutes.list, { query: { ...query, siteId: siteId || undefined, limit: LIMIT } });
  // What the stream brought since the filters last changed; it overrides fetched copies (it is
  // newer) and survives the refetch that follows every reconnect.
  const [streamed, setStreamed] = useState<ReadonlyMap<string, Incident>>(new Map());
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const timers = useRef<Array<ReturnType<typeof setTimeout>>>([]);
  useEffect(() => () => timers.current.forEach(clearTimeout), []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset whenever the filters change
  useEffect(() => setStreamed(new Map()), [query, siteId]);

  // the stream has no site filter: its incidents are matched here
  const matches = useCallback(
    (i: Incident) =>
      (!query.projectId || i.projectId === query.projectId) &&
      (!query.deviceId || i.deviceId === query.deviceId) &&
      (!query.status || i.status === query.status) &&
      (!siteId || (siteId === "local" ? !i.site : i.site?.id === siteId)),
    [query, siteId],
  );

  const markFresh = (id: string) => {
    setFresh((f) => new Set(f).add(id));
    timers.current.push(
      setTimeout(
        () =>
          setFresh((f) => {
            const n = new Set(f);
            n.delete(id);
            return n;
          }),
        FRESH_MS,
      ),
    );
  };

  const stream = useIncidentStream(
    query,
    ({ type, incident }) => {
      setStreamed((m) => new Map(m).set(incident.id, incident));
      if (type === "incident.created") markFresh(incident.id);
    },
    list.reload,
  );

  const items = useMemo(() => {
    const byId = new Map((list.data?.items ?? []).map((i) => [i.id, i]));
    for (const [id, i] of streamed) byId.set(id, i);
    return [...byId.values()]
      .filter(matches)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, LIMIT);
  }, [list.data, streamed, matches]);

  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };

  const openCount = items.filter((i) => i.status === "open").length;
  return (
    <Page title="Incidents" subtitle={project ? project.name : "All projects"} actions={<LiveBadge status={stream} />}>
      <search className="filters" aria-label="Filter incidents">
        <DeviceFilter projectId={project?.id} value={deviceId} onChange={(v) => setFilter("device", v)} />
        <SiteFilter value={siteId} onChange={(v) => setFilter("site", v)} />
        <Field label="Status">
          {(id) => (
            <select id={id} value={status} onChange={(e) => setFilter("status", e.target.value)}>
              <option value="">Any status</option>
              {incidentStatuses.map((s) => (
                <option key={s} value={s}>
                  {statusLabel(s)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </search>
      {list.error && !list.data ? (
        <ErrorState error={list.error} onRetry={list.reload} />
      ) : !list.data ? (
        <Loading label="Loading incidents" />
      ) : items.length === 0 ? (
        <EmptyState>No incidents match. New ones appear here as they happen.</EmptyState>
      ) : (
        <>
          <p className="muted list-summary" aria-live="polite">
            {items.length} shown · {openCount} open
          </p>
          <ul className="incident-list" aria-label="Incidents">
            {items.map((i) => (
              <IncidentCard key={i.id} incident={i} fresh={fresh.has(i.id)} />
            ))}
          </ul>
        </>
      )}
    </Page>
  );
}

/** On a central hub: incidents of one site, or the hub's own; hidden where no site is registered. */
function SiteFilter(props: { value: string; onChange(v: string): void }) {
  const sites = useQuery(federationRoutes.listSites, {});
  const items = sites.data?.items ?? [];
  if (items.length === 0 && !props.value) return null;
  return (
    <Field label="Site">
      {(id) => (
        <select id={id} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
          <option value="">Every site</option>
          <option value="local">This hub's own</option>
          {items.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

function LiveBadge({ status }: { status: StreamStatus }) {
  if (status === "live")
    return (
      <Badge tone="success" title="New incidents appear without reloading">
        <span className="live-dot" aria-hidden="true" /> Live
      </Badge>
    );
  return <Badge tone="warning">{status === "connecting" ? "Connecting…" : "Reconnecting…"}</Badge>;
}

/** A device select when the user may list devices; otherwise a free text filter. */
function DeviceFilter(props: { projectId?: string; value: string; onChange: (v: string) => void }) {
  const canList = useCan("devices:read");
  const devices = useQuery(fleetRoutes.list, { query: { projectId: props.projectId } }, { enabled: canList });
  return (
    <Field label="Device">
      {(id) =>
        canList ? (
          <select id={id} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
            <option value="">Any device</option>
            {(devices.data?.items ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.name || d.id}
              </option>
            ))}
            {props.value && !devices.data?.items.some((d) => d.id === props.value) ? (
              <option value={props.value}>{props.value}</option>
            ) : null}
          </select>
        ) : (
          <input
            id={id}
            value={props.value}
            placeholder="Device id"
            onChange={(e) => props.onChange(e.target.value.trim())}
          />
        )
      }
    </Field>
  );
}
