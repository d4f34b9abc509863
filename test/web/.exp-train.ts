import { join } from "node:path";
import type { Project, TrainingRun } from "@kensa/contracts";
import { tempDir, waitFor } from "@kensa/testkit";
import { importSyntheticDataset, startMlHub } from "./ml-harness.js";

const [defect, size, input, epochs, batch] = process.argv.slice(2);
const dir = await tempDir();
const m = await startMlHub(dir.path);
const project = await m.api.call<Project>("POST", "/projects", {
  slug: "x",
  name: "X",
  task: "classification",
  labels: ["ok", defect],
  okLabels: ["ok"],
});
let t = Date.now();
await importSyntheticDataset(m, project, join(dir.path, "d"), {
  count: 120,
  seed: 5,
  size: Number(size),
  defect: defect as "spot",
});
console.log("import ms", Date.now() - t);
t = Date.now();
const run = await m.api.call<TrainingRun>(
  "POST",
  `/projects/${project.id}/runs`,
  {
    input: { width: Number(input), height: Number(input), channels: 3 },
    hyper: { epochs: Number(epochs), batchSize: Number(batch) },
  },
  201,
);
const done = await waitFor(
  "run",
  async () => {
    const r = await m.api.get<TrainingRun>(`/runs/${run.id}`);
    return r.status !== "queued" && r.status !== "running" ? r : null;
  },
  { timeoutMs: 200000, intervalMs: 200 },
);
console.log("train ms", Date.now() - t, done.status, JSON.stringify(done.trainerMetrics), done.error);
const log = await (
  await fetch(`${m.url}/api/v1/runs/${run.id}/log`, { headers: { authorization: `Bearer ${m.hub.adminToken}` } })
).text();
console.log(
  log
    .split("\n")
    .filter(
      (l) =>
        l.startsWith('{"type": "epoch"') ||
        l.startsWith('{"type":"epoch"') ||
        l.includes('"type": "done"') ||
        l.includes('"type":"done"'),
    )
    .map((l) => {
      const j = JSON.parse(l);
      return j.type === "done"
        ? `done elapsed ${j.elapsedSec}`
        : `${j.epoch} ${j.loss.toFixed(3)} ${j.valLoss.toFixed(3)} ${j.valMetric.toFixed(3)} t=${j.elapsedSec}`;
    })
    .join("\n"),
);
await m.hub.close();
await dir.remove();
