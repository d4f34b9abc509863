import { join } from "node:path";
import { fleetRoutes, type Telemetry, topics } from "@kensa/contracts";
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
import { type FindingDevice, projectWithDevice } from "./support/device-findings.js";

/** how long a page may take to show what it loads: two busy cores, lazy chunks */
const POLL = { timeout: 20_000, interval: 100 };
const MIN = 60_000;
/** minutes of history the device sends before the console opens, one message 3 minutes apart */
const SENT = 12;

/**
 * The console draws telemetry from the hub's history: a fleet page opened after a device has
 * been running shows its trend lines at once (not one dot), on a desktop and on a phone; the
 * device page charts 1 h, 24 h or 7 d; new telemetry extends the line live; a device that
 * never sent telemetry says so. The device publishes over MQTT with its own credentials; the
 * hub's telemetry clock runs behind the wall clock while it does, so half an hour of minutes
 * passes in a second.
 */
describe.skipIf(skipBrowserTests)("telemetry history in the console", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let browser: Browser;
  let device: FindingDevice;
  let silent: FindingDevice;
  let client: MqttClient;
  /** ms the hub's telemetry clock is behind the wall clock */
  let behind = 0;
  const contexts: BrowserContext[] = [];
  const admin = { username: "tess", password: "tess-password-1" };

  async function newPage(options: typeof PHONE): Promise<Page> {
    const context = await browser.newContext({ ...options, baseURL: hub.httpUrl });
    contexts.push(context);
    return context.newPage();
  }

  /** Publishes one telemetry message timed `behind` ms ago and waits until the hub merged it. */
  async function publish(over: Partial<Telemetry>): Promise<void> {
    const before = hub.hub.telemetry.counters.recorded;
    const message: Telemetry = {
      v: 1,
      ts: new Date(Date.now() - behind).toISOString(),
      fps: 12,
      latencyMs: { p50: 18, p95: 35 },
      framesTotal: 0,
      framesDropped: 0,
      outboxDepth: 0,
      mediaQueueDepth: 0,
      ...over,
    };
    await client.publishAsync(topics.telemetry(device.id), JSON.stringify(message), { qos: 1 });
    await waitFor("telemetry recorded", () => hub.hub.telemetry.counters.recorded > before, { intervalMs: 10 });
  }

  /** The number of points a sparkline or chart says it draws, from its accessible name. */
  const points = (page: Page, name: RegExp) =>
    page
      .getByRole("img", { name })
      .first()
      .getAttribute("aria-label")
      .then((l) => Number(/(\d+) points?/.exec(l ?? "")?.[1] ?? 0))
      .catch(() => 0);

  beforeAll(async () => {
    dir = await tempDir();
    const [, launched] = await Promise.all([buildConsole(), launchChromium()]);
    browser = launched;
    hub = await startScenarioHub({
      createHub: (config, deps) => createHub(config, { ...deps, telemetryClock: () => Date.now() - behind }),
      dataDir: join(dir.path, "hub"),
      // points are written every 200 ms, so the test sees them in the database, not only in memory
      config: { training: { workers: 0 }, telemetry: { flushSeconds: 0.2 } },
    });
    device = await projectWithDevice(hub, "cam-t1", { name: "Line T", task: "classification", labels: ["ok", "nok"] });
    const enrolled = await hub.client.call(fleetRoutes.enroll, {
      body: { projectId: device.projectId, id: "cam-t2", tags: [] },
    });
    silent = { id: "cam-t2", secret: enrolled.secret, projectId: device.projectId };
    client = await mqtt.connectAsync(hub.mqttUrl, {
      username: device.id,
      password: device.secret,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    // 36 minutes of a device running, a message every 3 minutes: fps 10, 11, 12, 10, …
    for (let i = 0; i < SENT; i++) {
      behind = (SENT - i) * 3 * MIN;
      await publish({ fps: 10 + (i % 3), latencyMs: { p50: 18, p95: 30 + i }, framesTotal: i * 1800 });
    }
    behind = 0;
    await waitFor("points written", () => hub.hub.telemetry.counters.written >= SENT, { timeoutMs: 10_000 });
    await createUser(hub.httpUrl, hub.adminToken, admin.username, "admin", admin.password);
  }, 120_000);

  afterAll(async () => {
    await client?.endAsync();
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await browser?.close();
    await hub?.close();
    await dir?.remove();
  });

  it("shows the fleet's trend lines from the hub's history as soon as the page opens, and extends them live", async () => {
    const stored = await hub.hub.store.db
      .selectFrom("telemetry_points")
      .select("minute")
      .where("device_id", "=", device.id)
      .execute();
    expect(stored).toHaveLength(SENT);

    const page = await newPage(DESKTOP);
    const opened = Date.now();
    await signIn(page, "/fleet", admin.username, admin.password);
    const fps = new RegExp(`^fps of ${device.id}: `);
    await expect.poll(() => points(page, fps), POLL).toBe(SENT);
    // at once: the first load of the page, not minutes of polling in the browser
    expect(Date.now() - opened).toBeLessThan(15_000);
    expect(await points(page, new RegExp(`^p95 latency of ${device.id}: `))).toBe(SENT);
    // a line, not a dot: its path has a segment per point
    const path = await page
      .locator(".spark", { has: page.getByRole("img", { name: fps }) })
      .locator("path.recharts-line-curve")
      .getAttribute("d");
    expect((path ?? "").match(/[LC]/g)?.length ?? 0).toBeGreaterThanOrEqual(SENT - 1);
    // the device that never sent telemetry says so, and only it
    await expect
      .poll(() => page.getByRole("img", { name: `fps of ${silent.id}: no telemetry yet` }).count(), POLL)
      .toBe(1);
    expect(await page.getByRole("img", { name: /no telemetry yet/ }).count()).toBe(2);
    await screenshot(page, "fleet-telemetry-desktop");

    // a new message now: the line grows at the device poll, without reloading the page
    await publish({ fps: 4, latencyMs: { p50: 40, p95: 80 }, framesTotal: SENT * 1800 });
    await expect.poll(() => points(page, fps), POLL).toBe(SENT + 1);
    await expect.poll(() => page.getByRole("img", { name: fps }).getAttribute("aria-label"), POLL).toContain(": 4.0");
  });

  it("fits the fps trend on a phone", async () => {
    const page = await newPage(PHONE);
    await signIn(page, "/fleet", admin.username, admin.password);
    const line = page.getByRole("img", { name: new RegExp(`^fps of ${device.id}: `) });
    await expect.poll(() => points(page, new RegExp(`^fps of ${device.id}: `)), POLL).toBeGreaterThanOrEqual(SENT);
    await line.scrollIntoViewIfNeeded();
    const box = await line.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    // the fleet is one card per device on a phone: nothing scrolls sideways
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth),
    ).toBe(true);
    const card = page.getByRole("table", { name: "Devices" }).locator("tbody tr").first();
    expect((await card.boundingBox())!.width).toBeLessThanOrEqual(390);
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, "fleet-telemetry-phone", { docs: true });
  });

  it("charts a device over 1 h, 24 h and 7 d, and says when there is nothing to chart", async () => {
    const page = await newPage(DESKTOP);
    await signIn(page, `/fleet/${device.id}`, admin.username, admin.password);
    const chart = /^Frames per second and p95 latency, last /;
    await expect.poll(() => points(page, chart), POLL).toBeGreaterThanOrEqual(SENT);
    expect(await page.getByText("Collecting telemetry").count()).toBe(0);
    await screenshot(page, "device-telemetry-1h");
    for (const range of ["24 h", "7 d"]) {
      await page.getByRole("button", { name: range, exact: true }).click();
      expect(await page.getByRole("button", { name: range, exact: true }).getAttribute("aria-pressed")).toBe("true");
      await expect
        .poll(() => page.getByRole("img", { name: chart }).getAttribute("aria-label"), POLL)
        .toContain(`last ${range}:`);
      // longer steps merge minutes: fewer points, still a line
      expect(await points(page, chart)).toBeGreaterThan(1);
    }

    await page.goto(`/fleet/${silent.id}`);
    await page.getByText("No telemetry in the last 1 h.").waitFor(POLL);
  });
});
