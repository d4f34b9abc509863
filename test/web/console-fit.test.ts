import { join } from "node:path";
import {
  datasetRoutes,
  type Event,
  fleetRoutes,
  type Incident,
  incidentRoutes,
  type ModelVersion,
  trainingRoutes,
} from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import { pushBlemishModel, type ScenarioHub, startScenarioHub } from "@kensa/scenario";
import { renderFrame } from "@kensa/synth";
import { type TempDir, tempDir } from "@kensa/testkit";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildConsole,
  createUser,
  DESKTOP,
  launchChromium,
  PHONE,
  screenshot,
  signIn,
  skipBrowserTests,
} from "./support/console-harness.js";
import { type FindingDevice, findingEvent, projectWithDevice, sendFinding } from "./support/device-findings.js";

/** how long a page may take to show what is polled for: two busy cores, lazy chunks */
const POLL = { timeout: 20_000, interval: 100 };
const CHOOSE = "Choose the project to work on";

/**
 * The console fits what it shows, in a real Chromium against a real hub: a model's version is
 * written once, the review buttons' colours mean what they say, a lone project needs no
 * choosing (and a chosen one is remembered), the labeling tools fit the project's task, and
 * Runs, Registry and an incident read on a phone without sideways scrolling.
 */
describe.skipIf(skipBrowserTests)("the console fits the project, the task and the phone", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let browser: Browser;
  let model: ModelVersion;
  let classifier: FindingDevice;
  let detector: FindingDevice;
  let segmenter: FindingDevice;
  let incident: Incident;
  const contexts: BrowserContext[] = [];
  const admin = { username: "rita", password: "rita-password-1" };

  async function newPage(options: typeof PHONE): Promise<Page> {
    const context = await browser.newContext({ ...options, baseURL: hub.httpUrl });
    contexts.push(context);
    return context.newPage();
  }

  /** A finding on a synthetic frame of the device's project, judged a false alarm: one sample to label. */
  async function falseAlarm(device: FindingDevice, n: number, result: Event["result"]): Promise<Incident> {
    const frame = await renderFrame(n, { seed: 20 + n, width: 320, height: 240, defectRate: 1 });
    const event = findingEvent(device, `evt-${device.id}-${String(n).padStart(7, "0")}`, frame, result, model.id);
    const raised = await sendFinding(hub, device, event, frame.jpeg);
    await hub.client.call(incidentRoutes.createVerdict, {
      params: { id: raised.id },
      body: { verdict: "false_alarm", by: "sam" },
    });
    return raised;
  }

  /** The id of the one sample waiting in a project's labeling queue. */
  async function queuedSample(projectId: string): Promise<string> {
    const q = await hub.client.call(datasetRoutes.labelingQueue, { params: { id: projectId }, query: {} });
    const ids = q.groups.flatMap((g) => g.items.map((s) => s.id));
    expect(ids).toHaveLength(1);
    return ids[0]!;
  }

  beforeAll(async () => {
    dir = await tempDir();
    const [, launched] = await Promise.all([buildConsole(), launchChromium()]);
    browser = launched;
    // no training worker: a queued run stays queued, so the runs table has a row to show
    hub = await startScenarioHub({ createHub, dataDir: join(dir.path, "hub"), config: { training: { workers: 0 } } });
    classifier = await projectWithDevice(hub, "cam-7", {
      name: "Line 7 sheets",
      task: "classification",
      labels: ["ok", "defect"],
    });
    // runs name their models "<slug> vN": the console must not add a second "vN"
    model = await pushBlemishModel(hub.client, classifier.projectId, { fileName: "surface-line-7 v1.onnx" });
    expect(model.name).toBe(`surface-line-7 v${model.version}`);
    await hub.client.call(fleetRoutes.createDeployment, {
      body: { modelVersionId: model.id, pipeline: "default", target: { deviceIds: [classifier.id], tags: [] } },
    });
    const frame = await renderFrame(1, { seed: 7, width: 320, height: 240, defectRate: 1 });
    const result = { task: "classification" as const, label: "defect", score: 1, scores: { ok: 0, defect: 1 } };
    const event = findingEvent(classifier, "evt-cam-7-0000001", frame, { ...result, finding: true }, model.id);
    incident = await sendFinding(hub, classifier, event, frame.jpeg);
    await falseAlarm(classifier, 2, { ...result, label: "defect", score: 0.7, finding: true });
    await hub.client.call(trainingRoutes.create, { params: { id: classifier.projectId }, body: { by: "lead" } });
    await createUser(hub.httpUrl, hub.adminToken, admin.username, "admin", admin.password);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await browser?.close();
    await hub?.close();
    await dir?.remove();
  });

  it("names a model version once, and colours Confirm as the main answer and False alarm as neutral", async () => {
    const page = await newPage(DESKTOP);
    await signIn(page, `/incidents/${incident.id}`, admin.username, admin.password);
    const facts = page.locator("main#main");
    await expect.poll(() => facts.textContent(), POLL).toContain("surface-line-7 v1");
    expect(await facts.textContent()).not.toContain("v1 v1");

    const confirm = page.getByRole("button", { name: "Confirm", exact: true });
    const dismiss = page.getByRole("button", { name: "False alarm", exact: true });
    const look = (b: typeof confirm) =>
      b.evaluate((el) => ({ cls: el.className, bg: getComputedStyle(el).backgroundColor }));
    const [c, f] = [await look(confirm), await look(dismiss)];
    expect(c.cls).toContain("btn-primary");
    expect(c.bg).toBe("rgb(29, 78, 216)"); // --accent
    expect(f.cls).toContain("btn-secondary");
    expect(f.bg).toBe("rgb(255, 255, 255)"); // --surface: neither red nor green
    for (const cls of [c.cls, f.cls]) expect(cls).not.toMatch(/btn-(danger|success)/);

    await page.goto("/deployments");
    const history = page.getByRole("list", { name: "Deployments" });
    await expect.poll(() => history.textContent(), POLL).toContain("surface-line-7 v1");
    expect(await page.locator("main#main").textContent()).not.toContain("v1 v1");
    await page.goto("/registry");
    const versions = page.getByRole("table", { name: "Model versions" });
    await expect.poll(() => versions.textContent(), POLL).toContain("surface-line-7 v1");
    expect(await versions.textContent()).not.toContain("v1 v1");
  });

  it("opens dataset pages on the only project, and remembers the one chosen among several", async () => {
    const page = await newPage(DESKTOP);
    await signIn(page, "/labeling", admin.username, admin.password);
    await page.getByText("1 sample(s) waiting").waitFor(POLL);
    const picker = page.getByLabel("Project", { exact: true });
    expect(await picker.inputValue()).toBe(classifier.projectId);
    expect(await picker.locator("option").allTextContents()).toEqual(["Line 7 sheets"]);
    for (const path of ["/datasets", "/datasets/snapshots"]) {
      await page.goto(path);
      await page.locator("main#main h1").waitFor();
      await expect.poll(() => page.locator("main#main").textContent(), POLL).not.toMatch(/Loading/);
      expect(await page.getByText(CHOOSE).count(), path).toBe(0);
    }

    detector = await projectWithDevice(hub, "cam-8", {
      name: "Line 8 boxes",
      task: "detection",
      labels: ["ok", "dent"],
    });
    segmenter = await projectWithDevice(hub, "cam-9", {
      name: "Line 9 cracks",
      task: "segmentation",
      labels: ["bg", "crack"],
    });
    const other = await newPage(DESKTOP);
    await signIn(other, "/labeling", admin.username, admin.password);
    await other.getByText(CHOOSE).waitFor(POLL);
    await other.getByRole("button", { name: "Line 8 boxes" }).click();
    await other.getByText("Nothing to label in Line 8 boxes").waitFor(POLL);
    await other.reload();
    await other.getByText("Nothing to label in Line 8 boxes").waitFor(POLL);
    expect(await other.getByLabel("Project", { exact: true }).inputValue()).toBe(detector.projectId);
  });

  it("offers only the labeling tools that fit the project's task", async () => {
    const box: [number, number, number, number] = [40, 40, 60, 50];
    await falseAlarm(detector, 3, {
      task: "detection",
      detections: [{ label: "dent", score: 0.7, box }],
      finding: true,
    });
    const region = { label: "crack", area: 3000, maskArea: 40, box, score: 0.7 };
    await falseAlarm(segmenter, 4, { task: "segmentation", regions: [region], finding: true });
    const page = await newPage(DESKTOP);
    const toolbar = page.getByRole("toolbar", { name: "Tools" });
    const tools = () => toolbar.locator("button[aria-pressed]").allTextContents();
    const open = async (projectId: string) => {
      await page.goto(`/labeling/${await queuedSample(projectId)}`);
      await page.getByTestId("label-canvas").waitFor(POLL);
      await toolbar.waitFor(POLL);
    };

    await signIn(page, "/labeling", admin.username, admin.password);
    await open(classifier.projectId);
    expect(await tools()).toEqual([]);
    expect(await page.getByLabel("Brush and eraser size, image pixels").count()).toBe(0);
    expect(await page.getByText("Draw new objects as").count()).toBe(0);
    // B does nothing and a drag draws nothing on a classification label; the class is still set
    const c = (await page.getByTestId("label-canvas").boundingBox())!;
    await page.keyboard.press("b");
    await page.mouse.move(c.x + c.width * 0.2, c.y + c.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(c.x + c.width * 0.6, c.y + c.height * 0.6, { steps: 5 });
    await page.mouse.up();
    expect(await page.getByTestId("label-box").count()).toBe(0);
    expect(await page.getByTestId("label-object").count()).toBe(0);
    await page.keyboard.press("?");
    const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await expect.poll(() => help.textContent(), POLL).toContain("mark reviewed");
    expect(await help.textContent()).not.toMatch(/box tool|mask brush|eraser \(|polygon: click/);
    await page.keyboard.press("Escape");

    await open(detector.projectId);
    await expect.poll(tools, POLL).toEqual(["Box B"]);
    expect(await page.getByLabel("Brush and eraser size, image pixels").count()).toBe(0);
    await page.getByText("Draw new objects as").waitFor();

    await open(segmenter.projectId);
    await expect.poll(tools, POLL).toEqual(["Brush M", "Eraser E", "Polygon P"]);
    expect(await page.getByRole("button", { name: "Brush M", pressed: true }).count()).toBe(1);
    await page.getByLabel("Brush and eraser size, image pixels").waitFor();
  });

  it("shows Runs and Registry as cards on a phone, and the incident without sideways scrolling", async () => {
    const page = await newPage(PHONE);
    await signIn(page, "/runs", admin.username, admin.password);
    /** The cells of the first row of a table: on a card they sit one under another, full width. */
    const firstRow = async (table: string) => {
      const row = page.getByRole("table", { name: table }).locator("tbody tr").first();
      await row.waitFor(POLL);
      const cells = await row.locator("td").evaluateAll((tds) =>
        tds
          .filter((td) => getComputedStyle(td).display !== "none")
          .map((td) => {
            const r = td.getBoundingClientRect();
            return { x: r.x, y: r.y, w: r.width, label: getComputedStyle(td, "::before").content };
          }),
      );
      return { row: (await row.boundingBox())!, cells };
    };
    const noSideways = () =>
      page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

    for (const [path, table, columns] of [
      ["/runs", "Training runs", 7],
      ["/registry", "Model versions", 7],
    ] as const) {
      await page.goto(path);
      const { row, cells } = await firstRow(table);
      expect(cells, `${table}: every column on the card`).toHaveLength(columns);
      for (let i = 1; i < cells.length; i++) {
        expect(cells[i]!.y, `${table} cell ${i} under the one before`).toBeGreaterThan(cells[i - 1]!.y);
        expect(Math.abs(cells[i]!.x - cells[0]!.x), `${table} cell ${i} aligned`).toBeLessThan(1);
      }
      // each value is named by its column, the first cell being the card's title
      expect(cells[0]!.label).toBe("none");
      expect(cells[1]!.label).toBe(table === "Training runs" ? '"Status"' : '"Stage"');
      expect(row.width).toBeLessThanOrEqual(390);
      expect(await noSideways(), `${path} fits the phone`).toBe(true);
      await screenshot(page, `${path.slice(1)}-phone`, { docs: true });
    }

    await page.goto(`/incidents/${incident.id}`);
    await page.getByRole("button", { name: "Confirm", exact: true }).waitFor(POLL);
    await page.getByRole("img", { name: /^Frame from cam-7/ }).waitFor(POLL);
    expect(await noSideways(), "the incident fits the phone").toBe(true);
    const confirm = (await page.getByRole("button", { name: "Confirm", exact: true }).boundingBox())!;
    expect(confirm.height, "a thumb-sized target").toBeGreaterThanOrEqual(48);
    await screenshot(page, "incident-classification-phone");
  });
});
