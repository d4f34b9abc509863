import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { fleetRoutes, type ModelVersion, type Rollout, registryRoutes, rolloutRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import {
  createInspectionProject,
  deployToTag,
  pushBlemishModel,
  type ScenarioHub,
  startScenarioHub,
} from "@kensa/scenario";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
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

/** the narrowest phone the console is made for */
const PHONE_375: BrowserContextOptions = { ...PHONE, viewport: { width: 375, height: 812 } };
/** ms a page may take to show what the hub says (it polls a running rollout every 3 s) */
const POLL = { timeout: 15_000 };
const DEVICES = ["cam-1", "cam-2", "cam-3", "cam-4", "cam-5"];

/**
 * Staged rollouts in a real Chromium against a real hub with five enrolled devices (no agents:
 * a rollout deploys its waves to enrolled devices, whose gates then wait for evidence). A data
 * scientist on a phone reads the waves and gates and cannot act; an IoT engineer pauses and
 * resumes from the page, sees a change made elsewhere arrive by polling, rolls back behind a
 * confirmation, and starts a new rollout from the registry, where the hub refuses a candidate
 * in deploy mode with its coded error and takes it in shadow.
 */
describe.skipIf(skipBrowserTests)("the console shows and steers staged rollouts", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let api: KensaClient;
  let browser: Browser;
  let champion: ModelVersion;
  let challenger: ModelVersion;
  let candidate: ModelVersion;
  let rollout: Rollout;
  const contexts: BrowserContext[] = [];
  const people = {} as Record<"site" | "ds" | "iot", { username: string; password: string }>;

  async function newPage(options: BrowserContextOptions): Promise<Page> {
    const context = await browser.newContext({ ...options, baseURL: hub.httpUrl });
    contexts.push(context);
    return context.newPage();
  }
  const stateOf = async (id: string) => (await api.call(rolloutRoutes.getRollout, { params: { id } })).state;
  const pageState = (page: Page, state: string) =>
    page.locator(`[data-testid="rollout-state"][data-state="${state}"]`).waitFor(POLL);

  beforeAll(async () => {
    dir = await tempDir();
    const [, launched] = await Promise.all([buildConsole(), launchChromium()]);
    browser = launched;
    hub = await startScenarioHub({
      createHub,
      dataDir: join(dir.path, "hub"),
      env: { ...process.env, KENSA_ADMIN_PASSWORD: "admin-password-1" },
      // the gates are judged every second, so the page shows an evaluation within the test
      config: { logLevel: "error", rollout: { tickSeconds: 1 } },
    });
    api = hub.client;
    const project = await createInspectionProject(api, { slug: "rollouts", name: "Rollout line" });
    for (const id of DEVICES) {
      await api.call(fleetRoutes.enroll, { body: { projectId: project.id, id, tags: ["line"] } });
    }
    champion = await pushBlemishModel(api, project.id, { width: 32, height: 32, fileName: "press.onnx" });
    challenger = await pushBlemishModel(api, project.id, { width: 48, height: 48, fileName: "press.onnx" });
    candidate = await pushBlemishModel(api, project.id, { width: 64, height: 64, fileName: "press.onnx" });
    const decide = { by: "admin", reason: "passed the gate", deploy: false };
    await api.call(registryRoutes.approve, { params: { id: champion.id }, body: decide });
    // the fleet runs the champion, so the rollout has something to replace and return to
    await deployToTag(api, champion.id, "line");
    await api.call(registryRoutes.approve, { params: { id: challenger.id }, body: decide });
    rollout = await api.call(rolloutRoutes.createRollout, {
      body: {
        modelVersionId: challenger.id,
        pipeline: "default",
        target: { tags: ["line"], deviceIds: [] },
        // one canary of five, then 2 and 2; a bake of an hour keeps the canary baking throughout
        strategy: { canaryPercent: 20, factor: 2, bakeSeconds: 3600 },
        gates: { minFrames: 200, maxIncidentRateRatio: 1.5 },
      },
    });
    people.site = await createUser(hub.httpUrl, hub.adminToken, "sam", "site_engineer");
    people.ds = await createUser(hub.httpUrl, hub.adminToken, "dana", "data_scientist");
    people.iot = await createUser(hub.httpUrl, hub.adminToken, "ivy", "iot_engineer");
  }, 120_000);

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await browser?.close();
    await hub?.close();
    await dir?.remove();
  });

  it("plans the canary and two waves from the champion", () => {
    expect(rollout.state).toBe("running");
    expect(rollout.championModelVersionId).toBe(champion.id);
    expect(rollout.waves.map((w) => w.deviceIds.length)).toEqual([1, 2, 2]);
  });

  it("a site engineer (no deployments:read) is not shown rollouts", async () => {
    const page = await newPage(PHONE_375);
    await signIn(page, "/rollouts", people.site.username, people.site.password);
    await page.getByRole("heading", { name: "Not allowed", level: 1 }).waitFor();
    await page.goto("/more");
    await page.getByRole("heading", { name: "More", level: 1 }).waitFor();
    expect(await page.getByRole("link", { name: "Rollouts" }).count()).toBe(0);
  });

  it("a data scientist on a 375 px phone reads the waves and the gates' evidence, with no action", async () => {
    const page = await newPage(PHONE_375);
    await signIn(page, "/rollouts", people.ds.username, people.ds.password);
    await page.getByRole("heading", { name: "Rollouts", level: 1 }).waitFor();
    const card = page.getByRole("table", { name: "Rollouts" }).locator("tbody tr").first();
    await card.getByText("press v2").waitFor();
    await card.getByText("replaces press v1").waitFor();
    await card.getByText("wave 1 of 3").waitFor();
    expect(await page.getByRole("button", { name: "New rollout" }).count()).toBe(0);
    expect(await noSideways(page), "the list fits 375 px").toBe(true);

    await card.getByRole("link", { name: "press v2" }).click();
    await page.getByRole("heading", { name: "Rollout of press v2", level: 1 }).waitFor();
    await pageState(page, "running");
    const waves = page.getByRole("list", { name: "Waves" }).locator(":scope > li");
    expect(await waves.count()).toBe(3);
    await page.locator('[data-wave="0"][data-state="baking"]').waitFor(POLL);
    expect(await waves.nth(1).getAttribute("data-state")).toBe("pending");
    await waves.nth(1).getByText("2 devices").waitFor();
    await page.getByRole("progressbar", { name: "Bake of wave 1" }).waitFor();
    // the hub judges the canary every second; with no frames every rate gate waits, never passes
    const gates = page.getByRole("list", { name: "Gates of wave 1" }).locator(":scope > li");
    await gates.first().waitFor(POLL);
    const incident = page.locator('[data-gate="incident_rate"]');
    expect(await incident.getAttribute("data-status")).toBe("waiting");
    await incident.getByRole("definition").filter({ hasText: "≤ 1.5 × the control's rate" }).waitFor();
    await incident.getByLabel("Control").waitFor();
    for (const name of ["Pause", "Resume", "Promote", "Roll back", "Abort"]) {
      expect(await page.getByRole("button", { name, exact: true }).count(), name).toBe(0);
    }
    expect(await noSideways(page), "the detail fits 375 px").toBe(true);
    await screenshot(page, "rollout-phone", { fullPage: true });
  });

  it("an IoT engineer pauses and resumes from the page, sees a change made elsewhere, and rolls back after confirming", async () => {
    const page = await newPage(DESKTOP);
    await signIn(page, `/rollouts/${rollout.id}`, people.iot.username, people.iot.password);
    await pageState(page, "running");
    const button = (name: string) => page.getByRole("button", { name, exact: true });
    expect(await button("Resume").count(), "nothing to resume while running").toBe(0);

    await button("Pause").click();
    await pageState(page, "paused");
    expect(await stateOf(rollout.id)).toBe("paused");
    // the newest transition comes first, naming who paused
    const paused = await api.call(rolloutRoutes.getRollout, { params: { id: rollout.id } });
    expect(paused.history.at(-1)).toMatchObject({ from: "running", to: "paused", by: "ivy" });
    const history = page.getByRole("list", { name: "History" });
    await history
      .locator("li")
      .first()
      .getByText(paused.history.at(-1)?.by ?? "?", { exact: false })
      .waitFor();
    expect(await button("Pause").count()).toBe(0);

    await button("Resume").click();
    await pageState(page, "running");
    expect(await stateOf(rollout.id)).toBe("running");

    // someone else pauses it (the CLI, a gate): the page polls and follows without a reload
    await api.call(rolloutRoutes.pauseRollout, {
      params: { id: rollout.id },
      body: { reason: "line stopped for cleaning" },
    });
    await pageState(page, "paused");
    await page.getByTestId("rollout-reason").getByText("line stopped for cleaning").waitFor();
    await button("Resume").click();
    await pageState(page, "running");

    // abort asks first, and Cancel leaves the rollout alone
    await button("Abort").click();
    const abort = page.getByRole("dialog", { name: "Abort this rollout?" });
    await abort.getByRole("button", { name: "Cancel" }).click();
    await abort.waitFor({ state: "hidden" });
    expect(await stateOf(rollout.id)).toBe("running");

    await button("Roll back").click();
    const confirm = page.getByRole("dialog", { name: "Roll back this rollout?" });
    await confirm.getByText(/The device this rollout reached goes back to the bundle it ran before/).waitFor();
    expect(await stateOf(rollout.id), "nothing before confirming").toBe("running");
    await confirm.getByLabel(/Reason/).fill("canary camera fogged up");
    await screenshot(page, "rollout-rollback-confirm");
    await confirm.getByRole("button", { name: "Roll back" }).click();
    await pageState(page, "rolled_back");
    const after = await api.call(rolloutRoutes.getRollout, { params: { id: rollout.id } });
    expect(after.state).toBe("rolled_back");
    expect(after.history.at(-1)).toMatchObject({ to: "rolled_back", reason: "canary camera fogged up" });
    await history.locator("li").first().getByText("canary camera fogged up").waitFor();
    for (const name of ["Pause", "Resume", "Promote", "Roll back", "Abort"]) {
      expect(await button(name).count(), `${name} after the rollback`).toBe(0);
    }
    await screenshot(page, "rollout-desktop", { fullPage: true });
  });

  it("an IoT engineer on a phone starts a rollout from the registry: a candidate is refused in deploy mode, taken in shadow", async () => {
    const page = await newPage(PHONE_375);
    await signIn(page, `/registry/${candidate.id}`, people.iot.username, people.iot.password);
    await page.getByRole("link", { name: "Staged rollout…" }).click();
    const form = page.getByRole("form", { name: "New rollout" });
    await form.waitFor();
    await expect.poll(() => form.getByLabel("Model version").inputValue()).toBe(candidate.id);
    // a candidate is put in shadow for the person; they insist on deploy and the hub refuses
    await expect.poll(() => form.getByRole("radio", { name: "Shadow" }).isChecked()).toBe(true);
    await form.getByRole("radio", { name: "Deploy" }).check();
    await form.getByText(/only approved versions may be deployed/).waitFor();
    await form.getByText("5 devices targeted").waitFor();
    await form.getByLabel("Bake time (minutes)").fill("30");
    await form.getByRole("button", { name: "Roll out" }).click();
    await form.getByRole("alert").getByText("KENSA_ERR_MODEL_NOT_DEPLOYABLE").waitFor();
    expect(await noSideways(page), "the form fits 375 px").toBe(true);
    await screenshot(page, "rollout-form-phone", { fullPage: true });
    const listed = await api.call(rolloutRoutes.listRollouts, { query: {} });
    expect(listed.items.filter((r) => r.modelVersionId === candidate.id)).toHaveLength(0);

    await form.getByRole("radio", { name: "Shadow" }).check();
    await form.getByRole("button", { name: "Roll out" }).click();
    await page.getByRole("heading", { name: "Rollout of press v3", level: 1 }).waitFor();
    await pageState(page, "running");
    const created = (await api.call(rolloutRoutes.listRollouts, { query: {} })).items.find(
      (r) => r.modelVersionId === candidate.id,
    );
    expect(created).toMatchObject({ mode: "shadow", state: "running", strategy: { bakeSeconds: 1800 } });
    expect(page.url()).toContain(`/rollouts/${created?.id}`);
    await waitFor("the shadow canary judged", async () => {
      const r = await api.call(rolloutRoutes.getRollout, { params: { id: created?.id ?? "" } });
      return r.waves[0]?.gates.some((g) => g.gate === "shadow_agreement") ?? false;
    });
    await page.locator('[data-gate="shadow_agreement"]').waitFor(POLL);
  });
});

function noSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
}
