import type { EnrolledDevice, Project, SampleWithHistory } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defectFrame, type MlHub, raiseIncident, settle, startMlHub } from "./ml-harness.js";
import {
  buildConsole,
  createUser,
  DESKTOP,
  launchChromium,
  screenshot,
  signIn,
  skipBrowserTests,
} from "./support/console-harness.js";

/**
 * Labeling in a real Chromium against a real hub: an incident a device raised is judged a false
 * alarm, its frame waits in the labeling queue, and a labeler draws a box on it and saves a new
 * revision, which the API then shows as theirs.
 */
/** how long a page may take to show what is polled for: two busy cores, lazy chunks */
const POLL = { timeout: 20_000, interval: 100 };

describe.skipIf(skipBrowserTests)("labeling in the console", () => {
  let dir: TempDir;
  let m: MlHub;
  let browser: Browser;
  let context: BrowserContext;
  let project: Project;
  let incidentId: string;
  /** where the frame's defect is, as fractions of the image: the labeler boxes it */
  let target: { from: [number, number]; to: [number, number] };
  const labeler = { username: "lena", password: "lena-password-1" };

  beforeAll(async () => {
    dir = await tempDir();
    const [, launched, hub] = await Promise.all([buildConsole(), launchChromium(), startMlHub(dir.path)]);
    browser = launched;
    m = hub;
    project = await m.api.call<Project>("POST", "/projects", {
      slug: "line-2",
      name: "Line 2 sheets",
      // anomaly labels take every tool (boxes and masks); a classification label takes none
      task: "anomaly",
      labels: ["ok", "defect"],
      okLabels: ["ok"],
      rule: { type: "threshold", labels: ["defect"], minScore: 0.5 },
      notifications: { email: [], webhooks: [], cooldownSec: 0 },
    });
    const device = await m.api.call<EnrolledDevice>("POST", "/devices", { projectId: project.id, id: "press-7" });
    const frame = await defectFrame(7);
    const [dx, dy, dw, dh] = frame.defect;
    const pad = 6;
    target = {
      from: [Math.max(0, dx - pad) / frame.width, Math.max(0, dy - pad) / frame.height],
      to: [Math.min(frame.width, dx + dw + pad) / frame.width, Math.min(frame.height, dy + dh + pad) / frame.height],
    };
    const incident = await raiseIncident(m, { id: device.device.id, secret: device.secret }, frame, {
      label: "defect",
      score: 0.81,
    });
    incidentId = incident.id;
    // a site engineer judged it: nothing wrong. The frame becomes an OK-labeled sample.
    await m.api.call("POST", `/incidents/${incident.id}/verdict`, { verdict: "false_alarm", by: "sam" }, 201);
    await createUser(m.url, m.hub.adminToken, labeler.username, "labeler", labeler.password);
    context = await browser.newContext({ ...DESKTOP, viewport: { width: 1360, height: 900 }, baseURL: m.url });
  }, 90_000);

  afterAll(async () => {
    await context?.close().catch(() => {});
    await browser?.close();
    await m?.hub.close();
    await dir?.remove();
  });

  /** the label canvas's box in page pixels */
  async function canvasBox(page: Page) {
    const box = await page.getByTestId("label-canvas").boundingBox();
    if (!box) throw new Error("the label canvas is not visible");
    return box;
  }

  async function drag(page: Page, from: [number, number], to: [number, number]) {
    const c = await canvasBox(page);
    await page.mouse.move(c.x + c.width * from[0], c.y + c.height * from[1]);
    await page.mouse.down();
    await page.mouse.move(c.x + c.width * ((from[0] + to[0]) / 2), c.y + c.height * ((from[1] + to[1]) / 2), {
      steps: 4,
    });
    await page.mouse.move(c.x + c.width * to[0], c.y + c.height * to[1], { steps: 4 });
    await page.mouse.up();
  }

  it("a labeler finds the false alarm in the queue, draws a box and saves a new revision", async () => {
    const page = await context.newPage();
    // the only project: the queue opens on it without asking
    await signIn(page, "/labeling", labeler.username, labeler.password);

    // the queue groups samples as the hub does, with counts
    const group = page.getByTestId("queue-false_positives");
    await expect.poll(() => group.getByTestId("sample-thumb").count(), POLL).toBe(1);
    await expect.poll(() => group.getByRole("heading").textContent(), POLL).toMatch(/False positives\s*1/);
    await settle(page);
    await screenshot(page, "labeling-queue");
    const thumb = group.getByTestId("sample-thumb");
    const sampleId = (await thumb.getAttribute("data-sample"))!;
    await thumb.click();
    await page.waitForURL(`**/labeling/${sampleId}`);
    await page.getByTestId("label-canvas").waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>(".lab-image");
      return img?.complete && img.naturalWidth > 0;
    });
    // the verdict's revision: an OK label by the site engineer, no box
    await expect.poll(() => page.getByTestId("revision-1").textContent(), POLL).toContain("sam");
    await page.getByRole("button", { name: "ok", pressed: true }).first().waitFor();

    // the shortcut overlay lists the keys
    await page.keyboard.press("?");
    const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await help.waitFor();
    await expect.poll(() => help.textContent(), POLL).toContain("mark reviewed");
    await page.keyboard.press("Escape");
    await help.waitFor({ state: "hidden" });

    // masks: paint with the brush (M), erase part (E), fill a polygon (P) into the same object;
    // the pixels land on a canvas of the image's own size. Undone again: masks are not saved here.
    const maskPixels = () =>
      page.evaluate(() => {
        const c = document.querySelector<HTMLCanvasElement>(".lab-masks")!;
        const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
        return { n, w: c.width, h: c.height };
      });
    const objects = page.getByTestId("label-object");
    await page.keyboard.press("m");
    await drag(page, [0.1, 0.5], [0.4, 0.5]);
    await expect.poll(() => objects.count(), POLL).toBe(1);
    const painted = await maskPixels();
    expect([painted.w, painted.h]).toEqual([320, 240]);
    expect(painted.n).toBeGreaterThan(100);
    await page.keyboard.press("e");
    await drag(page, [0.1, 0.5], [0.25, 0.5]);
    await expect.poll(async () => (await maskPixels()).n, POLL).toBeLessThan(painted.n);
    await page.keyboard.press("p");
    const c = await canvasBox(page);
    for (const [fx, fy] of [
      [0.6, 0.2],
      [0.9, 0.2],
      [0.75, 0.45],
    ]) {
      await page.mouse.click(c.x + c.width * fx!, c.y + c.height * fy!);
    }
    await page.keyboard.press("Enter");
    await expect.poll(async () => (await maskPixels()).n, POLL).toBeGreaterThan(painted.n);
    expect(await objects.count()).toBe(1);
    for (let i = 0; i < 3; i++) await page.keyboard.press("Control+z");
    await expect.poll(() => objects.count(), POLL).toBe(0);
    expect((await maskPixels()).n).toBe(0);

    // draw a box with the box tool (B); a second one is undone with Ctrl+Z
    await page.keyboard.press("b");
    await drag(page, target.from, target.to);
    await expect.poll(() => page.getByTestId("label-box").count(), POLL).toBe(1);
    await drag(page, [0.05, 0.05], [0.15, 0.15]);
    await expect.poll(() => page.getByTestId("label-box").count(), POLL).toBe(2);
    await page.keyboard.press("Control+z");
    await expect.poll(() => page.getByTestId("label-box").count(), POLL).toBe(1);
    expect(await page.getByTestId("label-box").first().getAttribute("data-label")).toBe("defect");
    await page.getByText("unsaved changes").waitFor();

    // with no object selected, number keys toggle the image classes: not ok (1), a defect (2)
    await page.keyboard.press("Escape");
    await page.keyboard.press("1");
    await page.keyboard.press("2");
    await page.getByRole("button", { name: "defect", pressed: true }).first().waitFor();
    expect(await page.getByRole("note").count()).toBe(0); // exactly one class: no warning

    // Enter saves a new revision
    await page.keyboard.press("Enter");
    await page.getByText("Saved rev 2 (labeled)").waitFor({ timeout: 10_000 });
    await expect.poll(() => page.getByTestId("revision-2").textContent(), POLL).toContain(labeler.username);
    await settle(page);
    await screenshot(page, "labeling-workspace");

    const sample = await m.api.get<SampleWithHistory>(`/samples/${sampleId}`);
    expect(sample.provenance).toMatchObject({ source: "verdict", incidentId });
    expect(sample.revisions.map((r) => [r.rev, r.by, r.source])).toEqual([
      [1, "sam", "verdict"],
      [2, labeler.username, "labeler"],
    ]);
    const label = sample.label!;
    expect(label.status).toBe("labeled");
    expect(label.content.classes).toEqual(["defect"]);
    expect(label.content.objects).toHaveLength(1);
    const obj = label.content.objects[0]!;
    expect(obj.label).toBe("defect");
    // where it was dragged, in image pixels (screen pixels are rounded: within 3 px)
    const img = sample.image!;
    const near = (v: number, want: number) => expect(Math.abs(v - want), `${v} ≈ ${want}`).toBeLessThan(3);
    near(obj.box!.x, target.from[0] * img.width);
    near(obj.box!.y, target.from[1] * img.height);
    near(obj.box!.w, (target.to[0] - target.from[0]) * img.width);
    near(obj.box!.h, (target.to[1] - target.from[1]) * img.height);

    // the history previews the verdict's revision read-only, without the box
    await page.getByTestId("revision-1").click();
    await page.getByText("Previewing rev 1 by sam").waitFor();
    await expect.poll(() => page.getByTestId("label-box").count(), POLL).toBe(0);
    await page.getByRole("button", { name: "Back to editing" }).click();
    await expect.poll(() => page.getByTestId("label-box").count(), POLL).toBe(1);

    // R marks it reviewed: a third revision with the same content, and it leaves the queue
    await page.keyboard.press("r");
    await page.getByText("Saved rev 3 (reviewed)").waitFor({ timeout: 10_000 });
    const reviewed = await m.api.get<SampleWithHistory>(`/samples/${sampleId}`);
    expect(reviewed.status).toBe("reviewed");
    expect(reviewed.label?.sha256).toBe(label.sha256);
  }, 90_000);
});
