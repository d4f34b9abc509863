import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { fleetRoutes, incidentRoutes, type ModelVersion, peopleRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import {
  type AgentOptions,
  createInspectionProject,
  deployToTag,
  enrollAgents,
  pushBlemishModel,
  type ScenarioAgent,
  type ScenarioHub,
  startScenarioAgent,
  startScenarioHub,
  syntheticCamera,
} from "@kensa/scenario";
import { renderFrame } from "@kensa/synth";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
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
import { findingEvent, projectWithDevice, sendClip, sendFinding } from "./support/device-findings.js";
import { expectDrawnOver, videoDuration } from "./support/frame-overlay.js";

/**
 * The console in a real Chromium against a real hub and real agent processes: a site engineer
 * reviews a live incident on a phone, an IoT engineer enrolls a device and rolls out a model,
 * and a role without the permission is refused by the UI and by the hub.
 */
describe.skipIf(skipBrowserTests)("the web console", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let url: string;
  let mqttUrl: string;
  let api: KensaClient;
  let browser: Browser;
  let projectId: string;
  let modelV2: ModelVersion;
  const agents: ScenarioAgent[] = [];
  const contexts: BrowserContext[] = [];
  const people = {} as Record<"site" | "iot" | "auditor", { username: string; password: string }>;

  const incidentById = (id: string) => api.call(incidentRoutes.get, { params: { id } });
  const device = (id: string) => api.call(fleetRoutes.get, { params: { id } });
  /** agents report often, so the console's pages fill quickly */
  const agentOptions = (seed: number): AgentOptions => ({
    dir: dir.path,
    sources: [syntheticCamera(seed, { fps: 2, defectRate: 0.5 })],
    config: { telemetryIntervalMs: 1000, frameUploadIntervalMs: 1000, reportIntervalMs: 1000 },
  });

  async function newPage(options: typeof PHONE): Promise<Page> {
    const context = await browser.newContext({ ...options, baseURL: url });
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
      env: { ...process.env, KENSA_ADMIN_PASSWORD: "admin-password-1" },
    });
    url = hub.httpUrl;
    mqttUrl = hub.mqttUrl;
    api = hub.client;
    const project = await createInspectionProject(api, {
      slug: "line-1",
      name: "Line 1 surfaces",
      notifications: { cooldownSec: 0 },
    });
    projectId = project.id;
    const v1 = await pushBlemishModel(api, projectId);
    modelV2 = await pushBlemishModel(api, projectId, { width: 48, height: 48, fileName: "blemish-48.onnx" });
    for (const [i, id] of ["cam-a", "cam-b"].entries()) {
      const devices = [{ id, name: `Press ${i + 1}`, tags: ["line-1"] }];
      agents.push(...(await enrollAgents(api, projectId, devices, agentOptions(11 + i))));
    }
    await waitFor("both agents online", async () => {
      const ds = (await api.call(fleetRoutes.list)).items;
      return ds.filter((d) => d.presence === "online").length === 2;
    });
    await deployToTag(api, v1.id, "line-1");
    people.site = await createUser(url, hub.adminToken, "sam", "site_engineer");
    people.iot = await createUser(url, hub.adminToken, "ivy", "iot_engineer");
    people.auditor = await createUser(url, hub.adminToken, "ada", "safety_auditor");
  }, 90_000);

  afterAll(async () => {
    for (const a of agents) {
      const notable = a.process.logs.filter((l) => l.level === "error" || l.level === "stderr");
      if (notable.length) console.log(`agent logs:\n${notable.map((l) => JSON.stringify(l)).join("\n")}`);
    }
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await browser?.close();
    await Promise.all(agents.map((a) => a.process.kill("SIGKILL")));
    await hub?.close();
    await dir?.remove();
  });

  it("a site engineer on a phone sees a new incident arrive live and marks it a false alarm", async () => {
    const page = await newPage(PHONE);
    await signIn(page, "/incidents", people.site.username, people.site.password);
    await expect.poll(() => page.getByText("Live", { exact: true }).isVisible(), { timeout: 15_000 }).toBe(true);
    // a marker that a reload would wipe: the incident must arrive over the stream
    await page.evaluate(() => Object.assign(globalThis, { __kensaNoReload: true }));
    const before = new Set(
      await page.locator("[data-incident-id]").evaluateAll((els) => els.map((e) => e.getAttribute("data-incident-id"))),
    );
    // the first incident the stream brings after that (highlighted as new), held on to by id
    // because more keep arriving above it
    const id = await waitFor(
      "a new incident in the list",
      async () => {
        const ids = await page
          .locator("li.incident-card.fresh")
          .evaluateAll((els) => els.map((e) => e.getAttribute("data-incident-id")));
        return ids.find((x) => x && !before.has(x));
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const fresh = page.locator(`li[data-incident-id="${id}"]`);
    expect(await page.evaluate(() => "__kensaNoReload" in globalThis), "the page was not reloaded").toBe(true);
    await waitFor("thumbnails", async () => (await page.locator(".thumb img").count()) > 0, { timeoutMs: 15_000 });
    await screenshot(page, "incidents-phone", { docs: true });

    // media arrives shortly after the incident: open one that has its frame for the screenshot
    await fresh.getByRole("link").tap();
    await page.getByRole("heading", { level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/incidents/${id}`);
    await page.getByRole("img", { name: /^Frame from cam-/ }).waitFor({ timeout: 20_000 });
    await page.getByRole("button", { name: "False alarm" }).waitFor();
    await screenshot(page, "incident-phone");
    await page.getByRole("button", { name: "False alarm" }).tap();
    await page.getByRole("status").filter({ hasText: "Saved: False alarm" }).waitFor();
    await expect.poll(() => page.getByTestId("verdict-by").last().textContent()).toBe("sam");

    const stored = await incidentById(id);
    expect(stored.status).toBe("false_alarm");
    expect(stored.verdicts.map((v) => [v.verdict, v.by])).toEqual([["false_alarm", "sam"]]);
  });

  it("an IoT engineer enrolls a device, sees its secret once, and rolls a model out to a tag", async () => {
    const page = await newPage(DESKTOP);
    await signIn(page, "/fleet", people.iot.username, people.iot.password);
    await page.getByRole("table", { name: "Devices" }).waitFor();
    // sparklines draw the hub's telemetry history (a point a minute) and the newest live sample:
    // every device has a line (history over minutes: test/web/telemetry-history.test.ts)
    const samples = () =>
      page
        .getByRole("img", { name: /^fps of / })
        .evaluateAll((els) => els.map((e) => Number(/(\d+) points?/.exec(e.getAttribute("aria-label") ?? "")?.[1])));
    await expect.poll(async () => Math.min(...(await samples())), { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
    await screenshot(page, "fleet-desktop", { docs: true });

    await page.getByRole("button", { name: "Enroll device" }).click();
    const dialog = page.getByRole("dialog", { name: "Enroll a device" });
    await dialog.getByLabel("Device id").fill("cam-c");
    await dialog.getByLabel("Name").fill("Press 3");
    await dialog.getByLabel("Tags").fill("line-2");
    await dialog.getByRole("button", { name: "Enroll" }).click();
    const shown = page.getByRole("dialog", { name: "Enrolled cam-c" });
    await shown.getByText("This is the only time the secret is shown").waitFor();
    const secret = (await shown.getByTestId("copy-Device secret").textContent())!.trim();
    const command = (await shown.getByTestId("copy-Agent command").textContent())!;
    expect(secret.length).toBeGreaterThan(15);
    expect(command).toContain("cam-c");
    await shown.getByRole("button", { name: "I copied the secret" }).click();
    await expect.poll(() => page.getByText(secret).count()).toBe(0);
    const enrolled = await device("cam-c");
    expect(enrolled.tags).toEqual(["line-2"]);
    expect(JSON.stringify(enrolled)).not.toContain(secret);
    // the secret on screen is the real one: an agent started with it comes online
    expect(command).toContain(mqttUrl);
    agents.push(await startScenarioAgent({ deviceId: "cam-c", secret, hubUrl: url, mqttUrl }, agentOptions(13)));
    const row = page.getByRole("row").filter({ hasText: "Press 3" });
    await row.getByText("online").waitFor({ timeout: 30_000 });

    await page.getByRole("link", { name: "Deployments" }).click();
    const form = page.getByRole("form", { name: "New deployment" });
    await form.getByLabel("Model version").selectOption(modelV2.id);
    await form.getByRole("checkbox", { name: "line-1" }).check();
    await form.getByText("2 devices targeted").waitFor();
    await form.getByRole("button", { name: "Deploy" }).click();
    const dep = await waitFor("the deployment", async () =>
      (await api.call(fleetRoutes.listDeployments)).items.find((d) => d.modelVersionId === modelV2.id),
    );
    const summary = page.locator(`[data-testid="rollout-summary"][data-deployment="${dep.id}"]`);
    await summary.waitFor();
    expect(await page.locator('[data-device="cam-a"]').getAttribute("data-state")).toMatch(/pending|loading|loaded/);
    await summary.filter({ hasText: "2 of 2 loaded" }).waitFor({ timeout: 45_000 });
    await screenshot(page, "deployments-desktop", { docs: true });
    for (const id of ["cam-a", "cam-b"]) {
      const p = (await device(id)).reported?.pipelines.find((x) => x.id === "default");
      expect(p?.bundle?.sha256, `${id} reports the new bundle`).toBe(dep.bundleSha256);
    }

    await page.getByRole("link", { name: "Fleet" }).click();
    await expect
      .poll(() =>
        page
          .getByTestId("loaded-version")
          .filter({ hasText: `blemish-48 v${modelV2.version}` })
          .count(),
      )
      .toBe(2);
    await page.getByRole("link", { name: "Press 1" }).click();
    await page.getByRole("heading", { name: "Press 1" }).waitFor();
    await page.getByRole("table", { name: "Pipelines" }).getByText(`blemish-48 v${modelV2.version}`).waitFor();
    // the agent sends a preview frame every few seconds; the device page shows it
    await waitFor("cam-a's preview frame at the hub", async () => {
      const frame = await api.fetch(fleetRoutes.getFrame, { params: { id: "cam-a" } });
      await frame.body?.cancel();
      return frame.headers.get("content-type")?.startsWith("image/jpeg");
    });
    await page.getByTestId("live-frame").waitFor({ timeout: 20_000 });
    await page.waitForTimeout(1500);
    await screenshot(page, "device-desktop", { docs: true });
  });

  it("draws a segmentation region by its outline over the frame", async () => {
    const seg = await projectWithDevice(hub, "seg-1", {
      name: "Line 3 cracks",
      task: "segmentation",
      labels: ["background", "crack"],
    });
    const frame = await renderFrame(4, { seed: 9, width: 640, height: 480, defectRate: 0 });
    // a crack along a diagonal, as the agent's tracer sends it (clockwise, frame px)
    const outline: Array<[number, number]> = [
      [100, 100],
      [140, 100],
      [420, 380],
      [380, 380],
    ];
    const box: [number, number, number, number] = [100, 100, 320, 280];
    const regions = [{ label: "crack", area: 11200, maskArea: 70, box, score: 0.8, outline }];
    const result = { task: "segmentation" as const, regions, finding: true };
    const event = findingEvent(seg, "evt-seg-1-0000001", frame, result, "segmenter-under-test");
    const incident = await sendFinding(hub, seg, event, frame.jpeg);
    const page = await newPage(PHONE);
    await signIn(page, `/incidents/${incident.id}`, people.site.username, people.site.password);
    const img = page.getByRole("img", { name: /^Frame from seg-1/ });
    await img.waitFor({ timeout: 15_000 });
    const polygons = page.getByTestId("frame-overlay").locator("polygon");
    await expect.poll(() => polygons.count()).toBe(1);
    expect(await page.getByTestId("frame-overlay").locator("rect").count()).toBe(0);
    const shown = (await img.boundingBox())!;
    const scale = shown.width / frame.width;
    const drawn = (await polygons.first().boundingBox())!;
    // the polygon spans the outline's extent, 100..420 × 100..380, scaled
    expectDrawnOver(drawn, shown, box, scale, "the region", 2);
  });

  it("draws a detector's boxes over the frame, scaled to the picture on a phone", async () => {
    const det = await projectWithDevice(hub, "det-1", {
      name: "Line 2 scratches",
      task: "detection",
      labels: ["ok", "scratch"],
    });
    // a real synthetic frame and its ground truth, sent as a perfect detector's event over the
    // device's own MQTT credentials; the frame is larger than a phone, so the overlay must scale
    const frame = await renderFrame(3, {
      seed: 5,
      width: 640,
      height: 480,
      defectRate: 1,
      defects: ["scratch"],
      maxDefects: 2,
    });
    const detections = frame.defects.map((d, i) => ({ label: "scratch", score: 0.9 - i * 0.1, box: d.box }));
    const result = { task: "detection" as const, detections, finding: true };
    const event = findingEvent(det, "evt-det-1-0000001", frame, result, "detector-under-test");
    const incident = await sendFinding(hub, det, event, frame.jpeg);

    const page = await newPage(PHONE);
    await signIn(page, `/incidents/${incident.id}`, people.site.username, people.site.password);
    const img = page.getByRole("img", { name: /^Frame from det-1/ });
    await img.waitFor({ timeout: 15_000 });
    const rects = page.getByTestId("frame-overlay").locator("rect");
    await expect.poll(() => rects.count()).toBe(detections.length);
    const shown = (await img.boundingBox())!;
    const scale = shown.width / frame.width;
    expect(scale, "the frame is scaled down to the phone").toBeLessThan(1);
    for (const [i, d] of detections.entries()) {
      expectDrawnOver((await rects.nth(i).boundingBox())!, shown, d.box, scale, `box ${i}`);
    }
    await page.getByRole("list", { name: "Scores" }).getByText("scratch").first().waitFor();
    await screenshot(page, "incident-detection-phone", { docs: true });

    // the device's clip arrives later: the open page shows it live, and it plays (H.264 MP4)
    if (await sendClip(hub, det, event.id, join(dir.path, "clip.mp4"))) {
      const video = page.getByLabel("Clip around the incident");
      await video.waitFor({ timeout: 15_000 });
      const duration = await videoDuration(video);
      expect(duration).toBeGreaterThan(1.5);
      expect(duration).toBeLessThan(2.5);
      await page.getByText("2.0 s").waitFor();
    }

    // relabel: the corrected label comes from the project's schema, two taps and a save
    await page.getByRole("button", { name: "Relabel" }).tap();
    const relabel = page.getByRole("dialog", { name: "Relabel" });
    await relabel.getByRole("checkbox", { name: "ok" }).check();
    await relabel.getByLabel("Note (optional)").fill("reflection of the light bar");
    await relabel.getByRole("button", { name: "Save labels" }).tap();
    await page.getByRole("status").filter({ hasText: "Saved: Relabeled" }).waitFor();
    const stored = await incidentById(incident.id);
    expect(stored.status).toBe("relabeled");
    expect(stored.verdicts.map((v) => [v.verdict, v.labels, v.note, v.by])).toEqual([
      ["relabel", ["ok"], "reflection of the light bar", "sam"],
    ]);
  });

  it("a safety auditor sees no review action, and the hub refuses the verdict from the page too", async () => {
    const page = await newPage(PHONE);
    const [open] = (await api.call(incidentRoutes.list, { query: { status: "open", limit: 1 } })).items;
    expect(open).toBeDefined();
    await signIn(page, `/incidents/${open!.id}`, people.auditor.username, people.auditor.password);
    await page.getByRole("heading", { level: 1 }).waitFor();
    await page.getByText("Verdicts").waitFor();
    expect(await page.getByRole("button", { name: "False alarm" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Confirm" }).count()).toBe(0);
    // the page's own session, as the console would send it
    const reply = await page.evaluate(
      async (verdictUrl) => {
        const res = await fetch(verdictUrl, {
          method: "POST",
          credentials: "include",
          headers: { "content-type": "application/json", "x-kensa-csrf": "1" },
          body: JSON.stringify({ verdict: "confirmed" }),
        });
        return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
      },
      api.url(incidentRoutes.createVerdict, { params: { id: open!.id } }),
    );
    expect(reply.status).toBe(403);
    expect(reply.body.error?.code).toBe("KENSA_ERR_FORBIDDEN");
    expect((await incidentById(open!.id)).verdicts).toEqual([]);

    // pages the role lacks are neither in the navigation nor reachable by URL
    await page.goto("/more");
    await page.getByRole("link", { name: "Audit" }).waitFor();
    expect(await page.getByRole("link", { name: "Users" }).count()).toBe(0);
    await page.goto("/users");
    await page.getByRole("heading", { name: "Not allowed" }).waitFor();
  });

  it("an admin creates a user, changes their role, and finds both in the audit log", async () => {
    const page = await newPage(DESKTOP);
    await signIn(page, "/users", "admin", "admin-password-1");
    await page.getByRole("table", { name: "Users" }).waitFor();
    await page.getByRole("button", { name: "New user" }).click();
    const dialog = page.getByRole("dialog", { name: "New user" });
    await dialog.getByLabel("Username").fill("lee");
    await dialog.getByLabel("Display name").fill("Lee Labeler");
    await dialog.getByLabel("Role").selectOption("labeler");
    await dialog.getByLabel("Initial password").fill("lee-password-1");
    await dialog.getByRole("button", { name: "Create user" }).click();
    await page.getByRole("status").filter({ hasText: "Created lee" }).waitFor();
    await page.getByLabel("Role of lee").selectOption("site_engineer");
    await page.getByRole("status").filter({ hasText: "lee is now Site engineer" }).waitFor();
    const users = await api.call(peopleRoutes.listUsers);
    expect(users.items.find((u) => u.username === "lee")?.role).toBe("site_engineer");
    await screenshot(page, "users-desktop");

    await page.getByRole("link", { name: "Audit" }).click();
    await page.getByLabel("Action").fill("user.role_change");
    await page.getByRole("button", { name: "Filter" }).click();
    const table = page.getByRole("table", { name: "Audit entries" });
    await table.getByRole("cell", { name: "user.role_change" }).waitFor();
    expect(await table.getByRole("row").count(), "one header row and one entry").toBe(2);
    await table.getByText("site_engineer").waitFor();
    await page.getByLabel("Action").fill("");
    await page.getByLabel("Actor").fill("admin");
    await page.getByRole("button", { name: "Filter" }).click();
    await table.getByRole("cell", { name: "user.create" }).first().waitFor();

    await page.getByRole("button", { name: "Administrator" }).click();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    const me = await page.evaluate(
      async (meUrl) => (await fetch(meUrl, { credentials: "include" })).status,
      api.url(peopleRoutes.me),
    );
    expect(me, "the session is gone").toBe(401);
  });
});
