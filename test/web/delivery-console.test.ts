import { createServer } from "node:net";
import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { fleetRoutes, peopleRoutes, systemRoutes, topics } from "@kensa/contracts";
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
import { type FindingDevice, findingEvent, projectWithDevice } from "./support/device-findings.js";

/** A port the OS just handed out, so the embedded broker can be stopped and bound again on it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === "object" && address ? address.port : 0;
}

/**
 * Delivery problems and device credentials in a real Chromium against a real hub: the hub
 * loses its broker and every page says so until it is back, a device's event sequence has a
 * gap, and an IoT engineer rotates one device's secret and revokes another's.
 */
describe.skipIf(skipBrowserTests)("the console shows delivery problems and manages device credentials", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let api: KensaClient;
  let browser: Browser;
  let gapDevice: FindingDevice;
  const secrets = new Map<string, string>();
  const contexts: BrowserContext[] = [];
  const links: MqttClient[] = [];
  const people = {} as Record<"site" | "iot", { username: string; password: string }>;

  async function newPage(options: typeof PHONE, permissions: string[] = []): Promise<Page> {
    const context = await browser.newContext({ ...options, baseURL: hub.httpUrl, permissions });
    contexts.push(context);
    return context.newPage();
  }

  /** Connects over MQTT as the device; null when the broker refuses it. */
  async function connectAs(id: string, secret: string): Promise<MqttClient | null> {
    try {
      const link = await mqtt.connectAsync(hub.mqttUrl, {
        clientId: `${id}-${links.length}`,
        username: id,
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

  const device = (id: string) => api.call(fleetRoutes.get, { params: { id } });

  beforeAll(async () => {
    dir = await tempDir();
    const [, launched] = await Promise.all([buildConsole(), launchChromium()]);
    browser = launched;
    hub = await startScenarioHub({
      createHub,
      dataDir: join(dir.path, "hub"),
      mqttPort: await freePort(),
      env: { ...process.env, KENSA_ADMIN_PASSWORD: "admin-password-1" },
      // the broker is stopped on purpose; its reconnect warnings would bury anything else
      config: { logLevel: "error" },
    });
    api = hub.client;
    gapDevice = await projectWithDevice(hub, "gap-1", {
      name: "Line 9 housings",
      task: "classification",
      labels: ["ok", "defect"],
    });
    for (const id of ["rot-1", "rev-1"]) {
      const enrolled = await api.call(fleetRoutes.enroll, { body: { projectId: gapDevice.projectId, id, tags: [] } });
      secrets.set(id, enrolled.secret);
    }
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

  it("a site engineer on a phone sees the hub's lost broker on every page until it is back", async () => {
    const page = await newPage(PHONE);
    await signIn(page, "/incidents", people.site.username, people.site.password);
    await page.getByRole("heading", { name: "Incidents", level: 1 }).waitFor();
    const banner = page.getByTestId("health-banner");
    expect(await banner.count(), "no banner while the hub is ok").toBe(0);

    const broker = hub.hub.broker;
    if (!broker) throw new Error("the test hub runs the embedded broker");
    await broker.close();
    await waitFor(
      "the hub to report degraded",
      async () => (await api.call(systemRoutes.health)).status === "degraded",
    );
    // the console polls every 10 s
    await banner.waitFor({ timeout: 25_000 });
    expect(await banner.getAttribute("role")).toBe("alert");
    await banner.getByText("The hub is degraded").waitFor();
    await banner.getByText("KENSA_ERR_BROKER_UNREACHABLE").waitFor();
    await banner.getByText(/not connected to its MQTT broker/).waitFor();
    await banner.getByText(/since \d+ (s|min) ago/).waitFor();
    // readable on the phone: the whole banner fits the width, no sideways scrolling
    const box = (await banner.boundingBox())!;
    expect(box.width).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, "health-banner-phone");

    // another page of the shell shows it too
    await page.getByRole("link", { name: "Fleet" }).tap();
    await page.getByRole("heading", { name: "Fleet", level: 1 }).waitFor();
    await banner.getByText("KENSA_ERR_BROKER_UNREACHABLE").waitFor();

    // the broker back on its port: the hub's client reconnects, and the banner goes
    await broker.listen();
    await waitFor("the hub to report ok", async () => (await api.call(systemRoutes.health)).status === "ok", {
      timeoutMs: 15_000,
    });
    await expect.poll(() => banner.count(), { timeout: 25_000 }).toBe(0);
  });

  it("a device whose event sequence has a gap is flagged on the fleet list and its page", async () => {
    const link = await connectAs(gapDevice.id, gapDevice.secret);
    if (!link) throw new Error("the device could not connect");
    const frame = { width: 64, height: 64 };
    const result = { task: "classification" as const, label: "ok", score: 0.9, scores: { ok: 0.9 }, finding: false };
    // 3 and 4 left the device and never arrived
    for (const seq of [1, 2, 5]) {
      const event = { ...findingEvent(gapDevice, `evt-gap-1-000000${seq}`, frame, result, "m"), seq, media: false };
      await link.publishAsync(topics.events(gapDevice.id), JSON.stringify(event), { qos: 1 });
    }
    const seen = await waitFor("the three events stored", async () => {
      const d = await device(gapDevice.id);
      return d.events.stored === 3 ? d : undefined;
    });
    expect(seen.events).toEqual({ stored: 3, maxSeq: 5, missing: 2 });

    const page = await newPage(DESKTOP);
    await signIn(page, "/fleet", people.iot.username, people.iot.password);
    const row = page.getByRole("row").filter({ hasText: "gap-1" });
    await row.getByText("2 events missing from this device's sequence").waitFor();
    await row.getByText("3 stored").waitFor();
    await row.getByText("seq 5").waitFor();
    // the devices without a gap carry no warning
    expect(await page.getByTestId("events-missing").count()).toBe(1);
    await screenshot(page, "fleet-gap-desktop");

    await row.getByRole("link", { name: "gap-1" }).click();
    const card = page.getByRole("region", { name: "Event delivery" });
    await card.getByText("2 events missing from this device's sequence").waitFor();
    await card.getByText(/stored events up to sequence number 5/).waitFor();
    const facts = Object.fromEntries(
      await card
        .locator(".fact")
        .evaluateAll((els) => els.map((e) => [e.querySelector("dt")?.textContent, e.querySelector("dd")?.textContent])),
    );
    expect(facts).toMatchObject({ "events stored": "3", "highest seq": "5", missing: "2" });

    // the two stragglers arrive late: the warning goes
    for (const seq of [3, 4]) {
      const event = { ...findingEvent(gapDevice, `evt-gap-1-000000${seq}`, frame, result, "m"), seq, media: false };
      await link.publishAsync(topics.events(gapDevice.id), JSON.stringify(event), { qos: 1 });
    }
    await expect.poll(() => page.getByTestId("events-missing").count(), { timeout: 15_000 }).toBe(0);
  });

  it("an IoT engineer rotates a device's secret: shown once, the old one refused at once", async () => {
    const oldSecret = secrets.get("rot-1")!;
    const live = await connectAs("rot-1", oldSecret);
    if (!live) throw new Error("rot-1 could not connect with its enrolment secret");
    const dropped = new Promise<void>((resolve) => live.once("close", () => resolve()));

    const page = await newPage(DESKTOP, ["clipboard-read", "clipboard-write"]);
    await signIn(page, "/fleet/rot-1", people.iot.username, people.iot.password);
    await page.getByRole("heading", { name: "rot-1", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Rotate secret" }).click();
    const confirm = page.getByRole("dialog", { name: "Rotate the secret of rot-1?" });
    await confirm.getByText(/disconnected at once/).waitFor();
    await confirm.getByText(/shown once/).waitFor();
    await confirm.getByText(/until its agent is given the new secret/).waitFor();
    expect(await canConnectAgain(), "nothing changes before confirming").toBe(true);
    await confirm.getByRole("button", { name: "Rotate secret" }).click();

    const shown = page.getByRole("dialog", { name: "New secret for rot-1" });
    await shown.getByText("This is the only time the new secret is shown").waitFor();
    const secret = (await shown.getByTestId("copy-Device secret").textContent())!.trim();
    const command = (await shown.getByTestId("copy-Agent command").textContent())!;
    expect(secret.length).toBeGreaterThan(15);
    expect(secret).not.toBe(oldSecret);
    expect(command).toContain("rot-1");
    await shown.getByRole("button", { name: "Copy device secret to clipboard" }).click();
    await shown.getByText("Copied", { exact: true }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await screenshot(page, "rotate-secret-desktop");

    // the live session with the old secret ended, the old secret is refused, the new one works
    await dropped;
    expect(await connectAs("rot-1", oldSecret), "the old secret is refused").toBeNull();
    expect(await connectAs("rot-1", secret), "the new secret is accepted").not.toBeNull();
    secrets.set("rot-1", secret);

    await shown.getByRole("button", { name: "I copied the secret" }).click();
    await expect.poll(() => page.getByText(secret).count()).toBe(0);
    // never again: not after leaving and coming back, and not from the hub
    await page.getByRole("link", { name: "← Fleet" }).click();
    await page.getByRole("heading", { name: "Fleet", level: 1 }).waitFor();
    await page.getByRole("link", { name: "rot-1" }).click();
    await page.getByRole("heading", { name: "rot-1", level: 1 }).waitFor();
    expect(await page.content()).not.toContain(secret);
    expect(JSON.stringify(await device("rot-1"))).not.toContain(secret);

    async function canConnectAgain(): Promise<boolean> {
      const other = await connectAs("rot-1", oldSecret);
      await other?.endAsync();
      return other !== null;
    }
  });

  it("an IoT engineer revokes a device: it is cut off and shown revoked; a site engineer cannot", async () => {
    const live = await connectAs("rev-1", secrets.get("rev-1")!);
    if (!live) throw new Error("rev-1 could not connect");
    const dropped = new Promise<void>((resolve) => live.once("close", () => resolve()));

    const site = await newPage(PHONE);
    await signIn(site, "/fleet/rev-1", people.site.username, people.site.password);
    await site.getByRole("region", { name: "Event delivery" }).waitFor();
    expect(await site.getByRole("button", { name: "Revoke" }).count()).toBe(0);
    expect(await site.getByRole("button", { name: "Rotate secret" }).count()).toBe(0);

    const page = await newPage(DESKTOP);
    await signIn(page, "/fleet/rev-1", people.iot.username, people.iot.password);
    await page.getByRole("heading", { name: "rev-1", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Revoke", exact: true }).click();
    const confirm = page.getByRole("dialog", { name: "Revoke rev-1?" });
    await confirm.getByText(/disconnected at once/).waitFor();
    await confirm.getByText(/comes back only by rotating its secret/).waitFor();
    await confirm.getByRole("button", { name: "Revoke device" }).click();
    await page.getByRole("status").filter({ hasText: "Revoked rev-1" }).waitFor();

    const header = page.locator(".page-head");
    await header.getByText("revoked").waitFor();
    expect(await page.getByRole("button", { name: "Revoke", exact: true }).count(), "nothing left to revoke").toBe(0);
    await page
      .getByRole("region", { name: "Event delivery" })
      .getByText(/Rotating its secret is the only way/)
      .waitFor();
    expect((await device("rev-1")).revokedAt).not.toBeNull();
    await dropped;
    expect(await connectAs("rev-1", secrets.get("rev-1")!), "the revoked secret is refused").toBeNull();
    await screenshot(page, "device-revoked-desktop");

    // the phone's open page picks the state up with its next poll, and the list shows it too
    await site.locator(".page-head").getByText("revoked").waitFor({ timeout: 10_000 });
    await site.getByRole("link", { name: "← Fleet" }).tap();
    await site.getByRole("row").filter({ hasText: "rev-1" }).getByText("revoked").waitFor();
  });

  it("a refused rotation shows the hub's error code and message, and no secret", async () => {
    const ike = await createUser(hub.httpUrl, hub.adminToken, "ike", "iot_engineer");
    const page = await newPage(PHONE);
    await signIn(page, "/fleet/rot-1", ike.username, ike.password);
    await page.getByRole("heading", { name: "rot-1", level: 1 }).waitFor();
    await screenshot(page, "device-actions-phone");
    await page.getByRole("button", { name: "Rotate secret" }).tap();
    // meanwhile an admin takes the permission away: the hub refuses what the page still offers
    await api.call(peopleRoutes.updateUser, { params: { id: ike.user.id }, body: { role: "site_engineer" } });
    const confirm = page.getByRole("dialog", { name: "Rotate the secret of rot-1?" });
    await confirm.getByRole("button", { name: "Rotate secret" }).tap();
    const error = confirm.getByRole("alert");
    await error.getByText("KENSA_ERR_FORBIDDEN").waitFor();
    expect((await error.textContent())!.replace("KENSA_ERR_FORBIDDEN", "").trim().length).toBeGreaterThan(5);
    expect(await page.getByRole("dialog", { name: /^New secret/ }).count()).toBe(0);
    expect(await connectAs("rot-1", secrets.get("rot-1")!), "the secret did not change").not.toBeNull();
    await confirm.getByRole("button", { name: "Cancel" }).tap();
    expect(await confirm.isVisible()).toBe(false);
  });

  it("an admin reads the ingest counters, each explained, on the System page", async () => {
    const page = await newPage(PHONE);
    await signIn(page, "/system", "admin", "admin-password-1");
    await page.getByRole("heading", { name: "System", level: 1 }).waitFor();
    await page.locator('[data-counter="stored"]').waitFor();
    const stats = await api.call(systemRoutes.stats);
    expect(stats.ingest.stored).toBeGreaterThanOrEqual(5);
    const shown = async (key: string) =>
      Number((await page.locator(`[data-counter="${key}"] .counter-value`).textContent())!.replace(/\D/g, ""));
    for (const key of ["rejected", "storeFailed", "shed", "queued"] as const) {
      expect(await shown(key), key).toBe(stats.ingest[key]);
    }
    expect(await shown("stored")).toBe(stats.ingest.stored);
    await page
      .getByText(/they stay on the device, which sends them again/)
      .first()
      .waitFor();
    await page.getByText("Store failed").waitFor();
    await page.getByText(/Refused for good/).waitFor();
    await page.getByText(/Waiting for their batch to commit/).waitFor();
    await page.getByText("MQTT broker connected", { exact: false }).waitFor();
    await screenshot(page, "system-phone");
  });
});
