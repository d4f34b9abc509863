import { federationRoutes, type Site } from "@kensa/contracts";
import { Link } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { Badge, type Column, DataTable, ErrorState, Loading, Page, TimeAgo } from "../../ui";
import { SiteRollouts } from "./site-rollouts";

/** ms between polls: sites call in every few seconds when their uplink is up */
const POLL_MS = 10_000;
/** a site silent for longer than this is shown as out of touch (its uplink, or the site, is down) */
const OUT_OF_TOUCH_MS = 2 * 60_000;

/**
 * On a central hub: every site hub federated to it, whether it is in touch, its fleet as it
 * last reported it, and what it sent up. Each site links to its incidents.
 */
export function SitesPage() {
  const sites = useQuery(federationRoutes.listSites, {}, { intervalMs: POLL_MS });
  return (
    <Page title="Sites" subtitle="Site hubs that run the loop on their shop floor and report here">
      {sites.error && !sites.data ? (
        <ErrorState error={sites.error} onRetry={sites.reload} />
      ) : !sites.data ? (
        <Loading label="Loading sites" />
      ) : (
        <>
          <DataTable
            label="Sites"
            rows={sites.data.items}
            rowKey={(s) => s.id}
            columns={columns(Date.now())}
            cards
            empty="No site is federated to this hub. Register one with “kensa site add” (docs/operations.md, Multi-site)."
          />
          {sites.data.items.map((s) => (
            <SiteRollouts key={s.id} site={s} />
          ))}
        </>
      )}
    </Page>
  );
}

export function siteContact(site: Site, now: number): { tone: "success" | "warning" | "neutral"; text: string } {
  if (!site.lastSeenAt) return { tone: "neutral", text: "never called in" };
  return now - Date.parse(site.lastSeenAt) <= OUT_OF_TOUCH_MS
    ? { tone: "success", text: "in touch" }
    : { tone: "warning", text: "out of touch" };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function fleetOf(site: Site): { online: number; total: number; models: number } {
  const projects = site.fleet?.projects ?? [];
  const models = new Set(projects.flatMap((p) => p.models.map((m) => m.modelVersionId)));
  return {
    online: projects.reduce((a, p) => a + p.devicesOnline, 0),
    total: projects.reduce((a, p) => a + p.devicesTotal, 0),
    models: models.size,
  };
}

function columns(now: number): Array<Column<Site>> {
  return [
    {
      header: "Site",
      cell: (s) => (
        <div data-site={s.id}>
          <strong>{s.name}</strong>
          <div className="muted mono">{s.id}</div>
        </div>
      ),
    },
    {
      header: "Contact",
      cell: (s) => {
        const c = siteContact(s, now);
        return (
          <div>
            <Badge tone={c.tone}>{c.text}</Badge>
            {s.lastSeenAt ? (
              <div className="muted">
                last <TimeAgo iso={s.lastSeenAt} />
              </div>
            ) : null}
          </div>
        );
      },
    },
    {
      header: "Devices online",
      cell: (s) => {
        if (!s.fleet) return <span className="muted">no report yet</span>;
        const f = fleetOf(s);
        return (
          <span>
            {f.online} / {f.total}
            <span className="muted"> · {plural(f.models, "model")}</span>
          </span>
        );
      },
    },
    { header: "Projects", hideOnMobile: true, cell: (s) => s.projects.join(", ") || "—" },
    {
      header: "Sent up",
      cell: (s) => (
        <Link to={`/incidents?site=${encodeURIComponent(s.id)}`}>
          {plural(s.incidents, "incident")} · {plural(s.verdicts, "verdict")}
        </Link>
      ),
    },
  ];
}
