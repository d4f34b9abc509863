import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { deviceConfigRoutes, fleetRoutes, projectRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import { type ScenarioHub, startScenarioHub } from "@kensa/scenario";
import { type TempDir, tempDir } from "@kensa/testkit";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildConsole,
  createUser,
  DESKTOP,
  launchChromium,
  signIn,
  skipBrowserTests,
} from "./support/console-harness.js";

/**
 * A device's remote config in a real Chromium against a real hub: the device page shows the
 * desired revision and the merged JSON; an IoT engineer edits it, and the hub's refusal of an
 * invalid one is shown with its key path.
 */
describe.skipIf(skipBrowserTests)("the console shows and edits a device's remote config", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let api: KensaClient;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let iot: { username: string; password: string };

  beforeAll(async () => {
    dir = await tempDir();
    const [, launched] = await Promise.all([buildConsole(), launchChromium()]);
    browser = launched;
    hub = await startScenarioHub({
      createHub,
      dataDir: join(dir.path, "hub"),
      env: { ...process.env, KENSA_ADMIN_PASSWORD: "admin-password-1" },
      config: { logLevel: "error" },
    });
    api = hub.client;
    const project = await api.call(projectRoutes.create, {
      body: { slug: "cfg", name: "Config line", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    await api.call(fleetRoutes.enroll, { body: { projectId: project.id, id: "cfg-1", name: "Oven camera", tags: [] } });
    await api.call(deviceConfigRoutes.setDeviceConfig, {
      params: { id: "cfg-1" },
      body: { config: { frameQueue: 8 }, comment: "from the API" },
    });
    iot = await createUser(hub.httpUrl, hub.adminToken, "ivy", "iot_engineer");
    // building the console and starting Chromium take a while on a busy machine
  }, 180_000);

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await browser?.close();
    await hub?.close();
    await dir?.remove();
  });

  it("shows desired vs applied and the JSON, saves an edit and shows a refusal's key path", async () => {
    const context = await browser.newContext({ ...DESKTOP, baseURL: hub.httpUrl });
    contexts.push(context);
    const page = await context.newPage();
    await signIn(page, "/fleet/cfg-1", iot.username, iot.password);
    const card = page.getByTestId("device-config");
    await card.getByText("from the API").waitFor();
    expect(await card.locator("pre").textContent()).toContain('"frameQueue": 8');
    await card.getByText("not reported").waitFor();

    await page.getByRole("button", { name: "Edit config", exact: true }).click();
    const dialog = page.getByRole("dialog");
    const box = dialog.getByLabel("Device config (JSON)");
    await box.fill(JSON.stringify({ frameQueue: 0 }));
    await dialog.getByRole("button", { name: "Save as a new revision" }).click();
    const refusal = dialog.getByTestId("device-config-refusal");
    await refusal.getByText("KENSA_ERR_DEVICE_CONFIG_INVALID").waitFor();
    expect(await refusal.textContent()).toContain("/frameQueue");

    await box.fill(JSON.stringify({ frameQueue: 12 }));
    await dialog.getByLabel("Why (optional)").fill("deeper queue");
    await dialog.getByRole("button", { name: "Save as a new revision" }).click();
    await card.getByText("deeper queue").waitFor();
    expect(await card.locator("pre").textContent()).toContain('"frameQueue": 12');
    const view = await api.call(deviceConfigRoutes.getDeviceConfig, { params: { id: "cfg-1" } });
    expect(view.device).toMatchObject({ rev: 2, comment: "deeper queue", createdBy: "ivy" });
  });
});
