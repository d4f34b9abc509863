import type { DatasetStats, Project, Snapshot } from "@kensa/contracts";
import { Card } from "../../ui";
import { CountBars, type CountRow, rowsOf } from "./count-bars";
import { SPLIT_COLORS, SPLITS } from "./split-colors";

/** Counts per class, status and source of the project's samples, and per split of a snapshot. */
export function DatasetStatsPanel({
  project,
  stats,
  snapshot,
}: {
  project: Project;
  stats: DatasetStats;
  snapshot: Snapshot | null;
}) {
  const one = (label: string) => [{ key: "count", label, color: "#1d4ed8" }];
  const splitSeries = SPLITS.map((s) => ({ key: s, label: s, color: SPLIT_COLORS[s] }));
  const perSplit = (what: "images" | "objects"): CountRow[] => {
    if (!snapshot) return [];
    const names = new Set([...project.labels, ...SPLITS.flatMap((s) => Object.keys(snapshot.stats.splits[s][what]))]);
    return [...names]
      .map((name) => {
        const row: CountRow = { name };
        for (const s of SPLITS) row[s] = snapshot.stats.splits[s][what][name] ?? 0;
        return row;
      })
      .filter((r) => SPLITS.some((s) => r[s]));
  };
  const objects = perSplit("objects");
  return (
    <Card title="Statistics">
      <p className="muted">
        {stats.samples} sample(s){stats.withoutImage ? `, ${stats.withoutImage} still waiting for their image` : ""}.
      </p>
      <div className="ds-charts">
        <CountBars
          title="Images per class"
          rows={rowsOf(stats.byClass, "count", project.labels)}
          series={one("images")}
        />
        <CountBars
          title="Samples per status"
          rows={rowsOf(stats.byStatus, "count", ["unlabeled", "labeled", "reviewed"])}
          series={one("samples")}
        />
        <CountBars title="Samples per source" rows={rowsOf(stats.bySource)} series={one("samples")} />
        {snapshot ? (
          <>
            <CountBars title="Images per class and split" rows={perSplit("images")} series={splitSeries} />
            {objects.length ? (
              <CountBars title="Objects per class and split" rows={objects} series={splitSeries} />
            ) : null}
            <CountBars
              title="Samples and groups per split"
              rows={SPLITS.map((s) => ({
                name: s,
                samples: snapshot.stats.splits[s].samples,
                groups: snapshot.stats.splits[s].groups,
              }))}
              series={[
                { key: "samples", label: "samples", color: "#0072B2" },
                { key: "groups", label: "groups", color: "#CC79A7" },
              ]}
            />
          </>
        ) : null}
      </div>
    </Card>
  );
}
