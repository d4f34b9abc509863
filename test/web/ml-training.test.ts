import { join } from "node:path";
import type {
  DatasetStats,
  ModelDetails,
  ModelVersion,
  Project,
  Snapshot,
  SnapshotDiff,
  TrainingRun,
} from "@kensa/contracts";
import { needService, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importSyntheticDataset, type MlHub, PYTHON, settle, startMlHub, torchAvailable } from "./ml-harness.js";
import {
  buildConsole,
  createUser,
  DESKTOP,
  launchChromium,
  screenshot,
  signIn,
  skipBrowserTests,
} from "./support/console-harness.js";

const skip =
  skipBrowserTests || needService(`PyTorch (${PYTHON} -c "import torch, torchvision, onnx")`, torchAvailable());

/** small enough to train in seconds on two cores, large enough to tell spots from clean metal */
const INPUT = 48;
/** the challenger's epochs; the champion gets one, so the challenger usually beats it */
const EPOCHS = 5;

/**
 * Training and approval in a real Chromium against a real hub whose worker runs the built-in
 * PyTorch trainer: a data scientist starts a run on an imported synthetic dataset, watches its
 * curves and log come in, compares the new model with the champion on the gate's frozen
 * snapshot and approves it with a reason; the API then shows who approved it.
 */
/** how long a page may take to show what is polled for: two busy cores, lazy chunks */
const POLL = { timeout: 20_000, interval: 100 };

describe.skipIf(skip)("training runs and the registry in the console", () => {
  let dir: TempDir;
  let m: MlHub;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let project: Project;
  let champion: ModelVersion;
  const scientist = { username: "dana", password: "dana-password-1" };

  async function trainViaApi(epochs: number): Promise<TrainingRun> {
    const run = await m.api.call<TrainingRun>(
      "POST",
      `/projects/${project.id}/runs`,
      { input: { width: INPUT, height: INPUT, channels: 3 }, hyper: { epochs, batchSize: 16 }, by: "lead" },
      201,
    );
    return waitFor(
      `run ${run.id}`,
      async () => {
        const r = await m.api.get<TrainingRun>(`/runs/${run.id}`);
        if (r.status === "failed" || r.status === "cancelled") throw new Error(JSON.stringify(r.error));
        return r.status === "succeeded" ? r : null;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
  }

  /** a page in a fresh browser profile, signed in as the data scientist */
  async function scientistPage(path: string) {
    const context = await browser.newContext({ ...DESKTOP, viewport: { width: 1360, height: 900 }, baseURL: m.url });
    contexts.push(context);
    const page = await context.newPage();
    await signIn(page, path, scientist.username, scientist.password);
    return page;
  }

  const gateOf = (modelId: string) =>
    waitFor(
      `the gate report of ${modelId}`,
      async () => (await m.api.get<ModelDetails>(`/models/${modelId}/details`)).gate,
      { timeoutMs: 120_000, intervalMs: 250 },
    );

  beforeAll(async () => {
    dir = await tempDir();
    const [, launched, hub] = await Promise.all([buildConsole(), launchChromium(), startMlHub(dir.path)]);
    browser = launched;
    m = hub;
    project = await m.api.call<Project>("POST", "/projects", {
      slug: "sheets",
      name: "Sheet metal",
      task: "classification",
      labels: ["ok", "spot"],
      okLabels: ["ok"],
    });
    // a person decides every model here, so the test can approve one
    await m.api.call("PUT", `/projects/${project.id}/training-settings`, { gate: { autoApprove: false } });
    await importSyntheticDataset(m, project, join(dir.path, "dataset"), {
      count: 120,
      seed: 5,
      size: 64,
      defect: "spot",
    });
    // the champion the new model is measured against
    const first = await trainViaApi(1);
    await gateOf(first.modelVersionId!);
    await m.api.call("POST", `/models/${first.modelVersionId}/approve`, {
      by: "lead",
      reason: "baseline",
      deploy: false,
    });
    champion = await m.api.get<ModelVersion>(`/models/${first.modelVersionId}`);
    await createUser(m.url, m.hub.adminToken, scientist.username, "data_scientist", scientist.password);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await browser?.close();
    await m?.hub.close();
    await dir?.remove();
  });

  it("a data scientist browses the dataset, freezes a snapshot and compares it with the last one", async () => {
    const page = await scientistPage("/datasets");
    await page.getByLabel("Project", { exact: true }).selectOption(project.id);
    const stats = await m.api.get<DatasetStats>(`/projects/${project.id}/dataset-stats`);
    const thumbs = page.locator("[data-testid=sample-grid] [data-testid=sample-thumb]");
    await expect.poll(() => thumbs.count(), POLL).toBe(stats.samples);
    await expect
      .poll(() => page.locator('[data-testid="chart-Images per class"] path.recharts-rectangle').count(), POLL)
      .toBe(2);
    // the class filter keeps the images of that class
    await page.getByLabel("Class").selectOption("spot");
    await expect.poll(() => thumbs.count(), POLL).toBe(stats.byClass.spot);
    await page.getByLabel("Class").selectOption({ label: "any" });
    await expect.poll(() => thumbs.count(), POLL).toBe(stats.samples);
    await settle(page);
    await screenshot(page, "datasets");

    await page.getByRole("link", { name: "Snapshots →" }).click();
    const form = page.getByRole("form", { name: "New snapshot" });
    await form.getByLabel("Name").fill("retrain-1");
    await form.getByLabel("Seed").fill("line-a");
    await form.getByRole("button", { name: "Create snapshot" }).click();
    await page.getByText(`Snapshot retrain-1 created: ${stats.samples} samples`).waitFor();
    const snaps = await m.api.get<{ items: Snapshot[] }>(`/projects/${project.id}/snapshots`);
    expect(snaps.items).toHaveLength(2);
    const made = snaps.items.find((s) => s.name === "retrain-1")!;
    const older = snaps.items.find((s) => s.id !== made.id)!;
    expect(made.by).toBe(scientist.username);
    await expect.poll(() => page.getByRole("table", { name: "Snapshots" }).locator("tbody tr").count(), POLL).toBe(2);

    // same samples and labels, another seed: nothing added or relabeled, some moved split
    await page.getByLabel("From (older)").selectOption(older.id);
    await page.getByLabel("To (newer)").selectOption(made.id);
    const diff = await m.api.get<SnapshotDiff>(`/snapshots/${older.id}/diff/${made.id}`);
    expect(diff.moved.length).toBeGreaterThan(0);
    const shown = page.getByTestId("snapshot-diff");
    await expect.poll(() => shown.getByRole("status").textContent(), POLL).toContain(`${diff.moved.length} moved`);
    expect(await shown.getByRole("status").textContent()).toContain("+0 added");
  });

  it("a data scientist starts a run, watches it train and approves the model with a reason", async () => {
    expect(champion.stage).toBe("approved");
    const page = await scientistPage("/runs");
    await page.getByLabel("Project", { exact: true }).selectOption(project.id);

    const form = page.getByRole("form", { name: "Start a training run" });
    const retrain = (await m.api.get<{ items: Snapshot[] }>(`/projects/${project.id}/snapshots`)).items.find(
      (s) => s.name === "retrain-1",
    )!;
    await form.getByLabel("Snapshot").selectOption(retrain.id);
    await form.getByLabel("Epochs").fill(String(EPOCHS));
    await form.getByLabel("Input width (px)").fill(String(INPUT));
    await form.getByLabel("Input height (px)").fill(String(INPUT));
    await form.getByLabel("Batch size").fill("16");
    await form.getByRole("button", { name: "Start run" }).click();
    await page.waitForURL(/\/runs\/run_/);
    const runId = page.url().split("/runs/")[1]!;

    // the page follows the run live until it ends, then shows the model it trained
    const modelLink = page.getByTestId("run-model-link");
    await modelLink.waitFor({ timeout: 120_000 });
    const run = await m.api.get<TrainingRun>(`/runs/${runId}`);
    expect(run).toMatchObject({
      status: "succeeded",
      by: scientist.username,
      snapshotId: retrain.id,
      params: { hyper: { epochs: EPOCHS } },
    });
    // curves: the per-step and per-epoch losses and the validation metric are drawn
    await expect.poll(() => page.locator("[data-testid=curve-loss] path.recharts-line-curve").count(), POLL).toBe(3);
    await expect.poll(() => page.locator("[data-testid=curve-metric] path.recharts-line-curve").count(), POLL).toBe(1);
    const epochRows = await page.locator("[data-testid=curve-metric] ~ table tbody tr").count();
    expect(epochRows).toBe(run.trainerMetrics!.epochsRun);
    await expect.poll(() => page.getByTestId("run-log").textContent(), POLL).toContain("run succeeded");
    await settle(page);
    await screenshot(page, "run-page", { fullPage: true });

    // the registry puts the challenger next to the champion, with the gate's report
    const modelId = run.modelVersionId!;
    await modelLink.click();
    await page.waitForURL(`**/registry/${modelId}`);
    await page.getByTestId("gate-report").waitFor({ timeout: 120_000 });
    const gate = await gateOf(modelId);
    expect(gate.championId).toBe(champion.id);
    expect(gate.decision).toBe("awaiting_approval");
    await expect.poll(() => page.locator("[data-testid=gate-report] tbody tr").count(), POLL).toBe(gate.results.length);
    await expect.poll(() => page.getByTestId("confusion-matrix").count(), POLL).toBe(2);
    // both models' defect-vs-OK curves are drawn from the evaluation's stored points
    await expect.poll(() => page.getByTestId("roc-curve").locator("path.recharts-curve").count(), POLL).toBe(2);
    await page.getByTestId("model-card").waitFor();
    await expect.poll(() => page.getByTestId("model-card").textContent(), POLL).toContain("Intended use");
    // tall enough for the gate report, both models' metrics and their confusion matrices
    await page.setViewportSize({ width: 1360, height: 1420 });
    await settle(page);
    await screenshot(page, "registry-compare");
    await page.setViewportSize({ width: 1360, height: 900 });

    // approve with a reason
    await page.getByRole("button", { name: "Approve…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Reason").fill("Fewer missed spots than the champion on the frozen test split");
    await dialog.getByLabel(/Deploy to/).uncheck();
    await dialog.getByRole("button", { name: "Approve", exact: true }).click();
    await expect.poll(() => page.getByTestId("model-stage").getAttribute("data-stage"), POLL).toBe("approved");

    const model = await m.api.get<ModelVersion>(`/models/${modelId}`);
    expect(model.stage).toBe("approved");
    const details = await m.api.get<ModelDetails>(`/models/${modelId}/details`);
    expect(details.approvals.at(-1)).toMatchObject({
      action: "approve",
      by: scientist.username,
      reason: "Fewer missed spots than the champion on the frozen test split",
      toStage: "approved",
    });

    // the registry lists both versions; the approved challenger is now the champion
    await page.getByRole("link", { name: "← Registry" }).click();
    const rows = page.getByRole("table", { name: "Model versions" }).locator("tbody tr");
    await expect.poll(() => rows.count(), POLL).toBe(2);
    await expect.poll(() => rows.first().textContent(), POLL).toContain("champion");
    expect(await rows.first().textContent()).toContain(model.name);
    // training and evaluation share two cores with the rest of the suite
  }, 240_000);

  it("a data scientist cancels a run while it trains", async () => {
    const run = await m.api.call<TrainingRun>(
      "POST",
      `/projects/${project.id}/runs`,
      { input: { width: INPUT, height: INPUT, channels: 3 }, hyper: { epochs: 500, batchSize: 16, patience: 0 } },
      201,
    );
    const page = await scientistPage(`/runs/${run.id}`);
    // wait until the trainer reports, so the cancel stops a live process, not a queued job
    await waitFor("the run to train", async () => (await m.api.get<TrainingRun>(`/runs/${run.id}`)).progress?.step, {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Cancel run" }).click();
    await page.getByRole("alert").getByText("KENSA_ERR_TRAINER_CANCELLED").waitFor({ timeout: 30_000 });
    const after = await m.api.get<TrainingRun>(`/runs/${run.id}`);
    expect(after.status).toBe("cancelled");
    expect(after.error?.code).toBe("KENSA_ERR_TRAINER_CANCELLED");
    expect(after.modelVersionId).toBeNull();
  }, 90_000);
});
