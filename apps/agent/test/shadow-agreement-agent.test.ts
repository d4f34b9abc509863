import { compile, type Desired, type Reported, ShadowAgreement } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { buildBlemishModel, buildFixedOutputModel } from "@kensa/vision/graph";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "../src/agent.js";
import { loadAgentConfig } from "../src/config.js";
import { Logger } from "../src/logger.js";
import { deviceBed } from "./helpers/device-bed.js";
import type { TestBundle } from "./helpers/hub-http.js";

const deviceId = "cam-shadow";
const secret = "device-secret";
const quiet = process.env.KENSA_TEST_VERBOSE ? new Logger("debug") : new Logger("error", {}, () => undefined);
const validAgreement = compile(ShadowAgreement);

/** A desired state whose one pipeline runs `bundle` with `shadow` beside it. */
const withShadow = (rev: number, bundle: TestBundle, shadow: TestBundle): Desired => ({
  v: 1,
  rev,
  updatedAt: new Date().toISOString(),
  deploymentId: `d${rev}`,
  pipelines: [{ id: "default", bundle: bundle.ref, shadow: shadow.ref }],
});

describe("agent: shadow agreement in the reported state", () => {
  const bed = deviceBed(deviceId, secret);
  let agent: RunningAgent | undefined;
  let champion: TestBundle;
  afterAll(async () => {
    await agent?.stop();
  });
  const agreementOf = (r: Reported | undefined) => r?.pipelines[0]?.shadowAgreement;
  const latest = (shadowMv: string) =>
    bed.watcher.reported.findLast((r) => agreementOf(r)?.shadowModelVersionId === shadowMv);

  it("reports the agreement of a challenger that calls everything OK: it agrees exactly on the OK frames", async () => {
    const blemish = buildBlemishModel();
    // the challenger: the champion's input, labels and output, a constant OK (its output is a softmax)
    const alwaysOk = buildFixedOutputModel({
      input: blemish.manifest.input.name,
      width: blemish.manifest.input.width,
      height: blemish.manifest.input.height,
      outputs: [{ name: "scores", dims: [1, 2], values: [0.98, 0.02] }],
    });
    champion = bed.hub.addBundle("mv-champion");
    const challenger = bed.hub.addBundle("mv-always-ok", { model: { onnx: alwaysOk, manifest: blemish.manifest } });
    await bed.watcher.setDesired(withShadow(1, champion, challenger));
    // no periodic report within the test: what arrives is the agent's own reporting of changes
    const config = loadAgentConfig({
      deviceId,
      secret,
      hubUrl: bed.hub.url,
      mqttUrl: bed.broker.url,
      dataDir: bed.dir.path,
      reportIntervalMs: 600_000,
      status: { port: 0 },
      sources: [{ id: "line", type: "synthetic", fps: 10, seed: 11, defectRate: 0.5 }],
    });
    agent = await startAgent(config, { logger: quiet });

    const first = await waitFor(
      "a reported agreement with frames of both labels",
      () => {
        const a = agreementOf(latest("mv-always-ok"));
        return a && (a.byLabel.ok?.frames ?? 0) > 0 && (a.byLabel.defect?.frames ?? 0) > 0 ? a : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(validAgreement.check(first)).toBe(true);
    expect(first).toMatchObject({
      bundleModelVersionId: "mv-champion",
      bundleSha256: champion.ref.sha256,
      shadowModelVersionId: "mv-always-ok",
      shadowSha256: challenger.ref.sha256,
    });
    // the challenger agrees on every frame the champion calls OK and on none it calls a defect
    expect(first.byLabel.ok?.agree).toBe(first.byLabel.ok?.frames);
    expect(first.byLabel.defect?.agree).toBe(0);
    expect(first.agree).toBe(first.byLabel.ok?.frames);
    expect(first.frames).toBe((first.byLabel.ok?.frames ?? 0) + (first.byLabel.defect?.frames ?? 0));
    expect(first.iou).toBeUndefined();
    // the disagreements were captured for labeling (capture.disagreement is on by default)
    expect(first.captures).toBeLessThanOrEqual(first.frames - first.agree);
    // the shadow raised nothing: events are the champion's, and the finding frames are its findings
    const events = bed.watcher.events;
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.bundle.modelVersionId === "mv-champion")).toBe(true);
    expect(events.some((e) => e.result.finding)).toBe(true);
  }, 60_000);

  it("republishes the agreement while it grows, at most every 10 s rather than every frame", async () => {
    const start = Date.now();
    const from = bed.watcher.reported.length;
    const before = agreementOf(latest("mv-always-ok"))?.frames ?? 0;
    await new Promise((r) => setTimeout(r, 12_000));
    const during = bed.watcher.reported.slice(from).filter((r) => agreementOf(r));
    const frames = agreementOf(during.at(-1))?.frames ?? 0;
    // ~120 frames in 12 s at 10 fps, reported once or twice, not per frame
    expect(frames - before).toBeGreaterThan(30);
    expect(during.length).toBeGreaterThanOrEqual(1);
    expect(during.length).toBeLessThanOrEqual(3);
    expect(Date.now() - start).toBeGreaterThanOrEqual(12_000);
  }, 30_000);

  it("restarts the counters for a new pair: a twin of the champion agrees on every frame", async () => {
    const previous = agreementOf(latest("mv-always-ok"));
    const twin = bed.hub.addBundle("mv-twin");
    await bed.watcher.setDesired(withShadow(2, champion, twin));
    const a = await waitFor(
      "the twin's agreement",
      () => {
        const x = agreementOf(latest("mv-twin"));
        return x && x.frames >= 5 ? x : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(a.agree).toBe(a.frames);
    expect(a.scoreDelta).toEqual({ mean: 0, p95: 0 });
    expect(a.captures).toBe(0);
    expect(Date.parse(a.since)).toBeGreaterThan(Date.parse(previous?.since ?? ""));
  }, 60_000);
});
