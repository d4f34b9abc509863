import { datasetRoutes, type Project, type Snapshot } from "@kensa/contracts";
import { Link, useSearchParams } from "react-router-dom";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { ProjectGate } from "../../project-gate";
import { Card, type Column, DataTable, ErrorState, Field, Loading, Page, TimeAgo } from "../../ui";
import { SnapshotDiffView } from "./snapshot-diff-view";
import { SnapshotForm } from "./snapshot-form";
import "./datasets.css";

const short = (s: Snapshot) => s.name ?? s.id.slice(0, 12);

/** Create, list and compare a project's snapshots. */
export function SnapshotsPage() {
  return (
    <Page
      title="Snapshots"
      subtitle="Frozen, content-addressed dataset versions with fixed splits"
      back={<Link to="/datasets">← Dataset</Link>}
    >
      <ProjectGate>{(p) => <Snapshots project={p} />}</ProjectGate>
    </Page>
  );
}

function Snapshots({ project }: { project: Project }) {
  const q = useQuery(datasetRoutes.listSnapshots, { params: { id: project.id } });
  const canManage = useCan("datasets:manage");
  const [params, setParams] = useSearchParams();
  const items = q.data?.items ?? [];
  const from = items.find((s) => s.id === params.get("from"));
  const to = items.find((s) => s.id === params.get("to"));
  const choose = (key: "from" | "to", id: string) =>
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (id) next.set(key, id);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );

  const columns: Column<Snapshot>[] = [
    {
      header: "Snapshot",
      cell: (s) => (
        <span>
          <strong>{short(s)}</strong> <span className="mono muted">{s.id.slice(0, 12)}</span>
        </span>
      ),
    },
    { header: "Samples", cell: (s) => s.sampleCount, align: "end" },
    {
      header: "train / val / test",
      cell: (s) => `${s.stats.splits.train.samples} / ${s.stats.splits.val.samples} / ${s.stats.splits.test.samples}`,
      hideOnMobile: true,
    },
    {
      header: "Params",
      cell: (s) => (
        <span className="mono">
          seed {s.params.seed}, {s.params.ratios.train}/{s.params.ratios.val}/{s.params.ratios.test}, {s.params.include}
        </span>
      ),
      hideOnMobile: true,
    },
    {
      header: "Left out",
      cell: (s) => `${s.excluded.noImage} no image, ${s.excluded.notLabeled} not labeled`,
      hideOnMobile: true,
    },
    {
      header: "Created",
      cell: (s) => (
        <span>
          <TimeAgo iso={s.createdAt} /> by {s.by}
        </span>
      ),
    },
    {
      header: "Browse",
      cell: (s) => <Link to={`/datasets?snapshot=${s.id}`}>samples</Link>,
    },
  ];

  const picker = (key: "from" | "to", label: string) => (
    <Field label={label}>
      {(id) => (
        <select id={id} value={params.get(key) ?? ""} onChange={(e) => choose(key, e.target.value)}>
          <option value="">choose…</option>
          {items.map((s) => (
            <option key={s.id} value={s.id}>
              {short(s)} · {new Date(s.createdAt).toLocaleString()}
            </option>
          ))}
        </select>
      )}
    </Field>
  );

  return (
    <div className="stack">
      <div className="grid-2">
        {canManage ? (
          <Card title="New snapshot">
            <SnapshotForm project={project} onCreated={() => q.reload()} />
          </Card>
        ) : null}
        <Card title="Compare two snapshots">
          <div className="filters">
            {picker("from", "From (older)")}
            {picker("to", "To (newer)")}
          </div>
          {from && to ? (
            <SnapshotDiffView key={`${from.id}:${to.id}`} from={from} to={to} />
          ) : (
            <p className="muted">Choose two snapshots to see the samples added, removed and relabeled.</p>
          )}
        </Card>
      </div>
      <Card title="Snapshots">
        {q.error ? <ErrorState error={q.error} onRetry={q.reload} /> : null}
        {q.loading && !q.data ? (
          <Loading />
        ) : (
          <DataTable
            rows={items}
            columns={columns}
            rowKey={(s) => s.id}
            label="Snapshots"
            empty="No snapshot yet: create one to train on."
          />
        )}
      </Card>
    </div>
  );
}
