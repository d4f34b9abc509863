import { type AuditEntry, type AuditQuery, peopleRoutes } from "@kensa/contracts";
import { type FormEvent, useEffect, useState } from "react";
import { hub } from "../../api/client";
import { Badge, Button, DataTable, ErrorState, Field, Loading, Page, useToast } from "../../ui";
import { ChainCheck } from "./chain-check";

const PAGE = 100;

/** Who did what, newest first; filter by action, actor or target, then page back in time. */
export function AuditPage() {
  const toast = useToast();
  const [draft, setDraft] = useState({ action: "", actor: "", target: "" });
  const [filters, setFilters] = useState(draft);
  const [items, setItems] = useState<AuditEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const load = async (before: string | null) => {
    const query: AuditQuery = {
      limit: PAGE,
      ...(before ? { before } : {}),
      ...(filters.action ? { action: filters.action } : {}),
      ...(filters.actor ? { actor: filters.actor } : {}),
      ...(filters.target ? { target: filters.target } : {}),
    };
    setBusy(true);
    try {
      const page = await hub.call(peopleRoutes.audit, { query });
      setItems((prev) => (before ? [...(prev ?? []), ...page.items] : page.items));
      setNext(page.next);
      setError(null);
    } catch (err) {
      if (before) toast.error(err, "Could not load older entries");
      else setError(err);
    } finally {
      setBusy(false);
    }
  };

  // biome-ignore lint/correctness/useExhaustiveDependencies: reload from the newest whenever the applied filters change
  useEffect(() => {
    void load(null);
  }, [filters]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters({ action: draft.action.trim(), actor: draft.actor.trim(), target: draft.target.trim() });
  };

  return (
    <Page title="Audit log" subtitle="Every sign-in, verdict, deployment and change, with who and when">
      <ChainCheck />
      <search aria-label="Filter the audit log">
        <form className="filters" onSubmit={apply}>
          <Field label="Action" hint="e.g. incident.verdict">
            {(id, d) => (
              <input
                id={id}
                aria-describedby={d}
                value={draft.action}
                onChange={(e) => setDraft({ ...draft, action: e.target.value })}
              />
            )}
          </Field>
          <Field label="Actor" hint="a username or device id">
            {(id, d) => (
              <input
                id={id}
                aria-describedby={d}
                value={draft.actor}
                onChange={(e) => setDraft({ ...draft, actor: e.target.value })}
              />
            )}
          </Field>
          <Field label="Target" hint="type or type:id">
            {(id, d) => (
              <input
                id={id}
                aria-describedby={d}
                value={draft.target}
                onChange={(e) => setDraft({ ...draft, target: e.target.value })}
              />
            )}
          </Field>
          <div className="filters-submit">
            <Button type="submit" variant="primary">
              Filter
            </Button>
          </div>
        </form>
      </search>
      {error && !items ? (
        <ErrorState error={error} onRetry={() => void load(null)} />
      ) : !items ? (
        <Loading label="Loading the audit log" />
      ) : (
        <>
          <DataTable
            label="Audit entries"
            rows={items}
            rowKey={(e) => e.id}
            empty="No entry matches."
            columns={[
              { header: "When", cell: (e) => <time dateTime={e.at}>{new Date(e.at).toLocaleString()}</time> },
              {
                header: "Actor",
                cell: (e) => (
                  <span>
                    {e.actor} {e.actorKind !== "user" ? <Badge>{e.actorKind}</Badge> : null}
                  </span>
                ),
              },
              { header: "Action", cell: (e) => <code>{e.action}</code> },
              {
                header: "Target",
                cell: (e) =>
                  e.targetType ? (
                    <span className="mono">{`${e.targetType}${e.targetId ? `:${e.targetId}` : ""}`}</span>
                  ) : (
                    "—"
                  ),
              },
              { header: "Details", hideOnMobile: true, cell: (e) => <Details details={e.details} /> },
              { header: "IP", hideOnMobile: true, cell: (e) => e.ip ?? "—" },
            ]}
          />
          {next ? (
            <Button onClick={() => void load(next)} busy={busy}>
              Load older
            </Button>
          ) : null}
        </>
      )}
    </Page>
  );
}

function Details({ details }: { details: Record<string, unknown> }) {
  const entries = Object.entries(details);
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <span className="details">
      {entries.map(([k, v]) => (
        <span key={k}>
          <span className="muted">{k}</span> {typeof v === "string" ? v : JSON.stringify(v)}
        </span>
      ))}
    </span>
  );
}
