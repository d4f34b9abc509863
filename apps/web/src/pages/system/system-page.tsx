import { type HubStats, systemRoutes } from "@kensa/contracts";
import { useQuery } from "../../api/use-query";
import { Badge, Card, ErrorState, Facts, Loading, Page, TimeAgo } from "../../ui";
import "./system-page.css";

/** ms between stats polls: the ingest queue moves within seconds */
const STATS_POLL_MS = 5000;

type IngestCounter = keyof HubStats["ingest"];

/**
 * Every ingest counter with what it means; for those that mean trouble when they grow, where
 * the events are meanwhile.
 */
const INGEST: ReadonlyArray<{ key: IngestCounter; label: string; explain: string; trouble?: boolean }> = [
  // the ones that mean trouble first: on a phone they are what fits the screen
  {
    key: "storeFailed",
    label: "Store failed",
    explain: "The database failed to store them; they stay on the device, which sends them again.",
    trouble: true,
  },
  {
    key: "shed",
    label: "Shed",
    explain: "Turned away while the ingest queue was full; they stay on the device, which sends them again.",
    trouble: true,
  },
  {
    key: "rejected",
    label: "Rejected",
    explain: "Refused for good; kept in the database with the reason and confirmed to the device as rejected.",
    trouble: true,
  },
  { key: "queued", label: "Queued", explain: "Waiting for their batch to commit right now." },
  { key: "received", label: "Received", explain: "Events that arrived over MQTT." },
  { key: "stored", label: "Stored", explain: "Events committed to the hub's database." },
  { key: "duplicates", label: "Duplicates", explain: "Events sent again that the hub already had; stored once." },
  { key: "invalid", label: "Invalid", explain: "Messages that were not a valid event." },
  { key: "unknownDevice", label: "Unknown device", explain: "Events from a device the hub does not know." },
];

/** The hub's health and counters: for whoever asks "are events getting through?". */
export function SystemPage() {
  const health = useQuery(systemRoutes.health, undefined, { intervalMs: STATS_POLL_MS });
  const stats = useQuery(systemRoutes.stats, undefined, { intervalMs: STATS_POLL_MS });
  const h = health.data;
  const s = stats.data;
  return (
    <Page
      title="System"
      subtitle={
        h ? (
          <>
            {h.status === "ok" ? <Badge tone="success">✓ ok</Badge> : <Badge tone="warning">⚠ degraded</Badge>} · MQTT
            broker {h.mqtt} · protocol {h.protocol}
          </>
        ) : undefined
      }
    >
      <div className="stack">
        {h && h.problems.length > 0 ? (
          <Card title="Problems">
            <ul className="system-problems">
              {h.problems.map((p) => (
                <li key={p.code}>
                  <strong>{p.message}</strong>{" "}
                  <span className="muted">
                    <code>{p.code}</code> · since <TimeAgo iso={p.since} />
                  </span>
                </li>
              ))}
            </ul>
          </Card>
        ) : null}
        {stats.error && !s ? (
          <ErrorState error={stats.error} onRetry={stats.reload} />
        ) : !s ? (
          <Loading label="Loading counters" />
        ) : (
          <>
            <Card title="Ingest (since this hub process started)">
              <dl className="counters" aria-label="Ingest counters">
                {INGEST.map((c) => {
                  const value = s.ingest[c.key];
                  const alarming = c.trouble === true && value > 0;
                  return (
                    <div key={c.key} className={alarming ? "counter counter-trouble" : "counter"} data-counter={c.key}>
                      <dt>
                        {c.label}{" "}
                        <span className="counter-value">
                          {alarming ? <span aria-hidden="true">⚠ </span> : null}
                          {value.toLocaleString()}
                        </span>
                      </dt>
                      <dd>{c.explain}</dd>
                    </div>
                  );
                })}
              </dl>
            </Card>
            <Card title="Totals">
              <Facts
                items={[
                  ["devices", `${s.devices.online} of ${s.devices.total} online`],
                  ["events", s.events.toLocaleString()],
                  ["incidents", s.incidents.toLocaleString()],
                  ["verdicts", s.verdicts.toLocaleString()],
                  ["notifications sent", s.notifications.sent.toLocaleString()],
                  ["notifications failed", s.notifications.failed.toLocaleString()],
                  ["notifications suppressed", s.notifications.suppressed.toLocaleString()],
                  ["notifications pending", s.notifications.pending.toLocaleString()],
                ]}
              />
            </Card>
          </>
        )}
      </div>
    </Page>
  );
}
