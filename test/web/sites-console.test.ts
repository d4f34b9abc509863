import { join } from "node:path";
import { KensaClient } from "@kensa/client";
import {
  federationRoutes,
  type Incident,
  incidentRoutes,
  peopleRoutes,
  projectRoutes,
  registryRoutes,
  type SiteIncident,
  type SiteRollout,
} from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import { pushBlemishModel, type ScenarioHub, startScenarioHub } from "@kensa/scenario";
import { type TempDir, tempDir } from "@kensa/testkit";
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

const PHONE_375: BrowserContextOptions = { ...PHONE, viewport: { width: 375, height: 812 } };

function siteIncident(id: string, deviceId: string): SiteIncident {
  return {
    id,
    projectSlug: "paint",
    deviceId,
    eventId: `evt-${id}`,
    status: "open",
    label: "defect",
    score: 0.93,
    rule: "threshold",
    modelVersionId: "mdl_site",
    bundleSha256: "c".repeat(64),
    frameMeta: {},
    mediaSha256: null,
    createdAt: new Date().toISOString(),
    acknowledgedBy: null,
    acknowledgedAt: null,
  };
}

/**
 * A central hub's console with two sites reporting to it (pushed over the federation API with
 * each site's token, as a site hub does): the Sites page shows contact and fleet and leads to a
 * site's incidents; a person scoped to one site sees only that site's incidents on a phone; an
 * admin scopes a new user from the user dialog.
 */
describe.skipIf(skipBrowserTests)("the console shows a central hub's sites", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let api: KensaClient;
  let browser: Browser;
  let siteRollout: SiteRollout;
  const contexts: BrowserContext[] = [];
  const admin = { username: "admin", password: "admin-password-1" };

  async function newPage(options: BrowserContextOptions): Promise<Page> {
    const context = await browser.newContext({ ...options, baseURL: hub.httpUrl });
    contexts.push(context);
    return context.newPage();
  }

  beforeAll(async () => {
    dir = await tempDir();
    const [, launched] = await Promise.all([buildConsole(), launchChromium()]);
    browser = launched;
    hub = await startScenarioHub({
      createHub,
      dataDir: join(dir.path, "hub"),
      env: { ...process.env, KENSA_ADMIN_PASSWORD: admin.password },
      config: { logLevel: "error", federation: { settleMs: 50 } },
    });
    api = hub.client;
    const paint = await api.call(projectRoutes.create, {
      body: { slug: "paint", name: "Paint", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    for (const [id, name, devices] of [
      ["plant-a", "Plant A", ["a-cam-1", "a-cam-2"]],
      ["plant-b", "Plant B", ["b-cam-1"]],
    ] as const) {
      const { token } = await api.call(federationRoutes.createSite, { body: { id, name, projects: ["paint"] } });
      const site = new KensaClient({ baseUrl: hub.httpUrl, auth: { kind: "bearer", token } });
      await site.call(federationRoutes.pushIncidents, {
        params: { id },
        body: { items: devices.map((d, i) => siteIncident(`${id}-${i}`, d)) },
      });
      await site.call(federationRoutes.pushFleet, {
        params: { id },
        body: {
          at: new Date().toISOString(),
          projects: [
            {
              slug: "paint",
              devicesTotal: devices.length + 1,
              devicesOnline: devices.length,
              models: [{ modelVersionId: "mdl_site", devices: devices.length }],
            },
          ],
        },
      });
    }
    // a rollout asked of plant-a; no site hub syncs here, so it stays `requested`
    const model = await pushBlemishModel(api, paint.id);
    await api.call(registryRoutes.approve, {
      params: { id: model.id },
      body: { by: "qa", reason: "ok", deploy: false },
    });
    siteRollout = await api.call(federationRoutes.createSiteRollout, {
      params: { id: "plant-a" },
      body: { modelVersionId: model.id, pipeline: "default", target: { deviceIds: [], tags: ["canary"] } },
    });
    const scoped = await createUser(hub.httpUrl, hub.adminToken, "bea", "site_engineer");
    await api.call(peopleRoutes.updateUser, { params: { id: scoped.user.id }, body: { sites: ["plant-b"] } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await browser?.close();
    await hub?.close();
    await dir?.remove();
  });

  it("lists every site with its contact and fleet, and opens a site's incidents", async () => {
    const page = await newPage(DESKTOP);
    await signIn(page, "/sites", admin.username, admin.password);
    await page.getByRole("heading", { name: "Sites", level: 1 }).waitFor();
    const table = page.getByRole("table", { name: "Sites" });
    const a = table.locator("tr", { has: page.locator('[data-site="plant-a"]') });
    await a.getByText("in touch").waitFor();
    await a.getByText("2 / 3").waitFor();
    await a.getByText("1 model").waitFor();
    await table
      .locator("tr", { has: page.locator('[data-site="plant-b"]') })
      .getByText("1 / 2")
      .waitFor();
    await screenshot(page, "sites-desktop");
    await a.getByRole("link", { name: "2 incidents · 0 verdicts" }).click();
    await page.getByRole("heading", { name: "Incidents", level: 1 }).waitFor();
    await expect.poll(() => page.locator("[data-incident-id]").count()).toBe(2);
    expect(await page.getByText("site plant-b").count()).toBe(0);
    await page.getByText("site plant-a").first().waitFor();
    expect(await page.getByLabel("Site").inputValue()).toBe("plant-a");
  });

  it("sends a rollback to a site's rollout after asking, and shows it pending until the site answers", async () => {
    const page = await newPage(DESKTOP);
    await signIn(page, "/sites", admin.username, admin.password);
    const rollouts = page.getByRole("table", { name: "Rollouts at Plant A" });
    const row = rollouts.locator("tr", { has: page.locator(`[data-site-rollout="${siteRollout.id}"]`) });
    await row.getByText("requested").waitFor();
    await screenshot(page, "sites-rollouts-desktop");
    await row.getByRole("button", { name: "Roll back" }).click();
    const dialog = page.getByRole("dialog", { name: "Roll back this rollout at site plant-a?" });
    await dialog.getByLabel(/Reason/).fill("paint shop audit");
    await dialog.getByRole("button", { name: "Roll back" }).click();
    await row.getByText("pending").waitFor();
    const { items } = await api.call(federationRoutes.listSiteRollouts, { params: { id: "plant-a" } });
    expect(items[0]?.commands).toMatchObject([
      { action: "rollback", state: "pending", reason: "paint shop audit", createdBy: "admin" },
    ]);
  });

  it("a site engineer scoped to one site sees only its incidents on a phone", async () => {
    const page = await newPage(PHONE_375);
    await signIn(page, "/incidents", "bea", "bea-password-1");
    await page.getByRole("heading", { name: "Incidents", level: 1 }).waitFor();
    await page.getByText("site plant-b").waitFor();
    expect(await page.locator("[data-incident-id]").count()).toBe(1);
    const theirs = await api.call(incidentRoutes.list, { query: { siteId: "plant-b", limit: 10 } });
    const seen = await page.locator("[data-incident-id]").getAttribute("data-incident-id");
    expect(theirs.items.map((i: Incident) => i.id)).toEqual([seen]);
    await screenshot(page, "sites-scoped-phone");
  });

  it("an admin scopes a new user to a site from the user dialog", async () => {
    const page = await newPage(DESKTOP);
    await signIn(page, "/users", admin.username, admin.password);
    await page.getByRole("button", { name: "New user" }).click();
    const form = page.getByRole("form", { name: "New user" });
    await form.getByLabel("Username").fill("carl");
    await form.getByLabel("Display name").fill("Carl");
    await form.getByLabel("Sites").fill("plant-a");
    await form.getByLabel("Initial password").fill("carl-password-1");
    await form.getByRole("button", { name: "Create user" }).click();
    await page.getByRole("table", { name: "Users" }).locator("tr", { hasText: "carl" }).getByText("plant-a").waitFor();
    const users = await api.call(peopleRoutes.listUsers, {});
    expect(users.items.find((u) => u.username === "carl")?.sites).toEqual(["plant-a"]);
    // a site the hub does not know is refused with its code, shown in the dialog
    await page.getByRole("button", { name: "New user" }).click();
    await form.getByLabel("Username").fill("dora");
    await form.getByLabel("Display name").fill("Dora");
    await form.getByLabel("Sites").fill("plant-z");
    await form.getByLabel("Initial password").fill("dora-password-1");
    await form.getByRole("button", { name: "Create user" }).click();
    await form.getByText("KENSA_ERR_SITE_NOT_FOUND").waitFor();
  });
});
