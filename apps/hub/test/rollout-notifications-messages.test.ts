import type { Rollout } from "@kensa/contracts";
import { describe, expect, it } from "vitest";
import { noticeOf, rolloutMail, rolloutPayload, rolloutSms } from "../src/notify/rollout-messages.js";

const URL = "https://hub.plant.test/rollouts/rol_7GkQ2vXbN1sPq0aZ";
const FALSE_ALARMS =
  "wave 0.0310 false alarms per frame against control 0.0040 (7.8×, limit 1.5×), p = 0.0002 over 1200 and 1300 frames";

/** A rollout paused by the hub on a breached false-alarm gate, its canary sent back. */
function breachedRollout(): Rollout {
  const group = { devices: 1, frames: 1200, count: 37, value: 0.031 };
  return {
    id: "rol_7GkQ2vXbN1sPq0aZ",
    projectId: "prj_1",
    modelVersionId: "mv_challenger",
    championModelVersionId: "mv_champion",
    pipeline: "default",
    mode: "deploy",
    precision: "auto",
    target: { deviceIds: [], tags: ["line"] },
    strategy: { canaryDeviceIds: [], canaryPercent: 10, factor: 2, bakeSeconds: 3600 },
    gates: {
      minFrames: 200,
      minVerdicts: 0,
      alpha: 0.01,
      maxInstallFailures: 0,
      maxRestarts: 2,
      maxLatencyRatio: 1.5,
      maxIncidentRateRatio: 1.5,
      maxFalseAlarmRatio: 1.5,
      requireBacktest: false,
      maxBacktestMissesAdded: 0,
      minShadowAgreement: 0.9,
      minFrameRateRatio: 0.8,
      autoRollback: true,
      disabled: [],
    },
    state: "paused",
    currentWave: 0,
    waves: [
      {
        index: 0,
        deviceIds: ["cam-1"],
        state: "rolled_back",
        deploymentId: "dep_1",
        startedAt: "2026-12-07T01:00:00.000Z",
        endedAt: "2026-12-07T02:00:00.000Z",
        gates: [
          { gate: "install", status: "pass", wave: group, threshold: 0, detail: "no install failures" },
          { gate: "false_alarms", status: "breach", wave: group, control: group, threshold: 1.5, detail: FALSE_ALARMS },
        ],
        evaluatedAt: "2026-12-07T02:00:00.000Z",
      },
      ...[1, 2].map((index) => ({
        index,
        deviceIds: [`cam-${index + 1}`],
        state: "pending" as const,
        deploymentId: null,
        startedAt: null,
        endedAt: null,
        gates: [],
        evaluatedAt: null,
      })),
    ],
    reason: `wave 1 of 3 breached false_alarms: ${FALSE_ALARMS}`,
    history: [
      { at: "2026-12-07T01:00:00.000Z", from: null, to: "planned", by: "ivy", reason: "created" },
      { at: "2026-12-07T02:00:00.000Z", from: "running", to: "paused", by: "hub", reason: "breached" },
    ],
    createdBy: "ivy",
    createdAt: "2026-12-07T01:00:00.000Z",
    updatedAt: "2026-12-07T02:00:00.000Z",
  };
}

describe("what a rollout alert says", () => {
  const names = new Map([
    ["mv_challenger", { name: "press", version: 4 }],
    ["mv_champion", { name: "press", version: 3 }],
  ]);
  const notice = noticeOf({ rollout: breachedRollout(), kind: "paused", reason: "gate breached", by: "hub" }, names);

  it("keeps the breached gate's evidence, the wave and when it happened", () => {
    expect(notice).toMatchObject({
      kind: "paused",
      model: { name: "press", version: 4 },
      champion: { name: "press", version: 3 },
      wave: { index: 0, of: 3, state: "rolled_back", deviceIds: ["cam-1"] },
      breached: [{ gate: "false_alarms", detail: FALSE_ALARMS }],
      at: "2026-12-07T02:00:00.000Z",
    });
  });

  it("e-mails the gate's detail and the link, and webhooks carry the same", () => {
    const mail = rolloutMail(notice, { name: "Press line", slug: "press" }, URL);
    expect(mail.subject).toBe("[Kensa] Press line: rollout of press v4 paused (wave 1 of 3)");
    expect(mail.text).toContain(`Gates that breached:\n  false_alarms: ${FALSE_ALARMS}`);
    expect(mail.text).toContain("wave      wave 1 of 3, 1 device(s), rolled back");
    expect(mail.text).toContain(`Open it: ${URL}`);
    const hook = rolloutPayload(notice, "ntf_1", URL);
    expect(hook.type).toBe("rollout.paused");
    expect(hook.breached).toEqual([{ gate: "false_alarms", detail: FALSE_ALARMS }]);
    expect(hook.rollout.url).toBe(URL);
  });

  it("fits an SMS in 160 code points without cutting the link, and names the gate", () => {
    const text = rolloutSms(notice, "press", URL, 160);
    expect(text).toBe(`ROLLOUT PAUSED press: press v4 wave 1/3, false_alarms breached ${URL}`);
    const long = noticeOf(
      {
        rollout: { ...breachedRollout(), waves: breachedRollout().waves.map((w) => ({ ...w, gates: [] })) },
        kind: "rolled_back",
        reason: "x".repeat(300),
        by: "ivy",
      },
      new Map(),
    );
    const cut = rolloutSms(long, "press", URL, 160);
    expect(Array.from(cut).length).toBeLessThanOrEqual(160);
    expect(cut.startsWith("ROLLOUT ROLLED BACK press: mv_challenger wave 1/3: xxx")).toBe(true);
    expect(cut.endsWith(` ${URL}`)).toBe(true);
  });
});
