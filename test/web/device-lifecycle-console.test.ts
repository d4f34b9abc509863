import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { fleetRoutes, projectRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import { type ScenarioHub, startScenarioHub } from "@kensa/scenario";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import mqtt, { type MqttClient } from "mqtt";
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

/**
 * A device's life in a real Chromium against a real hub: an IoT engineer edits its description
 * and tags, retires it (its live MQTT session ends, it leaves the fleet list) and deletes it; a
 * site engineer sees none of these buttons.
 */
describe.skipIf(skipBrowserTests)("the console edits, retires and deletes a device", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let api: KensaClient;
  let browser: Browser;
  let secret: string;
  const contexts: BrowserContext[] = [];
  const links: MqttClient[] = [];
  const people = {} as Record<"site" | "iot", { username: string; password: string }>;

  async function newPage(options: typeof PHONE): Promise<Page> {
    const context = await browser.newContext({ ...options, baseURL: hub.httpUrl });
    contexts.push(context);
    return context.newPage();
  }

  async function connect(): Promise<MqttClient | null> {
    try {
      const link = await mqtt.connectAsync(hub.mqttUrl, {
        clientId: "life-1",
        username: "life-1",
        password: secret,
        reconnectPeriod: 0,
        connectTimeout: 5000,
      });
      links.push(link);
      return link;
    } catch {
      return null;
    }
  }

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
      body: {
        slug: "lifecycle",
        name: "Lifecycle line",
        task: "classification",
        labels: ["ok", "defect"],
        okLabels: ["ok"],
        rule: { type: "threshold", labels: [], minScore: 0.5 },
        notifications: { email: [], webhooks: [], cooldownSec: 0 },
      },
    });
    const enrolled = await api.call(fleetRoutes.enroll, {
      body: { projectId: project.id, id: "life-1", name: "Press 4 camera", tags: ["press"] },
    });
    secret = enrolled.secret;
    people.site = await createUser(hub.httpUrl, hub.adminToken, "sam", "site_engineer");
    people.iot = await createUser(hub.httpUrl, hub.adminToken, "ivy", "iot_engineer");
  }, 90_000);

  afterAll(async () => {
    await Promise.all(links.map((l) => l.endAsync(true).catch(() => {})));
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await browser?.close();
    await hub?.close();
    await dir?.remove();
  });

  it("a site engineer sees no edit, retire or delete button", async () => {
    const page = await newPage(PHONE);
    await signIn(page, "/fleet/life-1", people.site.username, people.site.password);
    await page.getByRole("heading", { name: "Press 4 camera", level: 1 }).waitFor();
    for (const name of ["Edit", "Retire", "Delete"]) {
      expect(await page.getByRole("button", { name, exact: true }).count(), name).toBe(0);
    }
  });

  it("an IoT engineer edits, retires and deletes the device, each after a confirmation", async () => {
    const live = await connect();
    if (!live) throw new Error("life-1 could not connect");
    const dropped = new Promise<void>((resolve) => live.once("close", () => resolve()));

    const page = await newPage(DESKTOP);
    await signIn(page, "/fleet/life-1", people.iot.username, people.iot.password);
    await page.getByRole("heading", { name: "Press 4 camera", level: 1 }).waitFor();

    await page.getByRole("button", { name: "Edit", exact: true }).click();
    const edit = page.getByRole("dialog", { name: "Edit life-1" });
    await edit.getByLabel("Description").fill("above press 4, facing down");
    await edit.getByLabel("Tags").fill("press, line-4");
    await edit.getByText(/can change the model this device runs/).waitFor();
    await edit.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved life-1; no deployment changed" }).waitFor();
    await page.getByText("above press 4, facing down").waitFor();
    const saved = await api.call(fleetRoutes.get, { params: { id: "life-1" } });
    expect(saved).toMatchObject({ description: "above press 4, facing down", tags: ["line-4", "press"] });

    await page.getByRole("button", { name: "Retire", exact: true }).click();
    const retire = page.getByRole("dialog", { name: "Retire Press 4 camera?" });
    await retire.getByText(/can never connect again/).waitFor();
    await retire.getByText(/Its events, incidents and frames stay/).waitFor();
    expect(
      (await api.call(fleetRoutes.get, { params: { id: "life-1" } })).retiredAt,
      "nothing before confirming",
    ).toBeNull();
    await retire.getByRole("button", { name: "Retire device" }).click();
    await page.getByRole("status").filter({ hasText: "Retired Press 4 camera" }).waitFor();
    await page.locator(".page-head").getByText("retired", { exact: true }).waitFor();
    // no credential to rotate or revoke on a retired device
    expect(await page.getByRole("button", { name: "Rotate secret" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Retire", exact: true }).count()).toBe(0);
    await dropped;
    expect(await connect(), "a retired device is refused").toBeNull();
    await screenshot(page, "device-retired-desktop");
    const fleet = await api.call(fleetRoutes.list, { query: {} });
    expect(fleet.items.map((d) => d.id)).not.toContain("life-1");

    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const del = page.getByRole("dialog", { name: "Delete Press 4 camera?" });
    await del.getByText(/never given to another device/).waitFor();
    await del.getByRole("button", { name: "Delete device" }).click();
    await page.getByRole("heading", { name: "Fleet", level: 1 }).waitFor();
    await waitFor("the device gone", async () =>
      api.call(fleetRoutes.get, { params: { id: "life-1" } }).then(
        () => false,
        (err: { code?: string }) => err.code === "KENSA_ERR_DEVICE_NOT_FOUND",
      ),
    );
  });
});
