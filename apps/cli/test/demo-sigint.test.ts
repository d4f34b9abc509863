import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot, tempDir, waitFor } from "@kensa/testkit";
import { afterAll, describe, expect, it } from "vitest";
import type { DemoReport } from "../src/demo-report.js";

const dir = await tempDir("kensa-demo-sigint-");
afterAll(() => dir.remove());

describe("kensa demo stopped with Ctrl-C", () => {
  it("reports what happened during the run, cancels a retrain in flight, and exits 0 once the loop turned", async () => {
    const reportPath = join(dir.path, "report.json");
    // its own process group, as a terminal's foreground job: Ctrl-C reaches the demo, its
    // agents and a trainer at the same moment, which is what made the old summary fail
    const demo = spawn(
      process.execPath,
      [
        ...["--import", "tsx", "apps/cli/src/main.ts", "demo", "--devices", "1", "--fps", "4", "--defect-rate", "0.5"],
        ...["--retrain-after", "10", "--train-frames", "400", "--data-dir", join(dir.path, "demo")],
        ...["--report", reportPath],
      ],
      { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    demo.stdout.on("data", (b: Buffer) => {
      out += b.toString("utf8");
    });
    demo.stderr.on("data", (b: Buffer) => {
      out += b.toString("utf8");
    });
    const exited = new Promise<number | null>((r) => demo.once("exit", (code) => r(code)));
    try {
      await waitFor("the demo says the loop turned", () => out.includes("loop      turned after"), {
        timeoutMs: 540_000,
        intervalMs: 500,
      });
      process.kill(-demo.pid!, "SIGINT");
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("hung"), 120_000))]);
      expect(code, out).toBe(0);
    } finally {
      if (demo.exitCode === null) process.kill(-demo.pid!, "SIGKILL");
    }

    const stopAt = out.indexOf("stopping: reading what happened from the hub before anything stops");
    const agentsAt = out.indexOf("stopping: 1 agents");
    const hubAt = out.indexOf("stopping: the hub");
    expect(stopAt, out).toBeGreaterThan(0);
    expect(agentsAt).toBeGreaterThan(stopAt);
    expect(hubAt).toBeGreaterThan(agentsAt);
    expect(out).toMatch(/demo turned the loop \(stopped by Ctrl-C after [\d.]+ s\): 1\/1 devices online, \d+ frames/);
    expect(out).not.toContain("failed checks");

    const report = JSON.parse(await readFile(reportPath, "utf8")) as DemoReport;
    expect(report.stoppedBy).toBe("signal");
    expect(report.loopTurned).toBe(true);
    const failed = Object.entries(report.checks).filter(([k, ok]) => !ok && k !== "loop.retrained");
    expect(failed).toEqual([]);
    expect(report.checks["loop.retrained"] || !report.training.available).toBe(true);
    expect(report.devices.seenOnline).toBe(1);
    expect(report.framesInspected).toBeGreaterThan(0);
    expect(report.incidents).toBeGreaterThan(0);
    // the fleet features (issue #14): the challenger went out in shadow in waves, its agreement
    // with the champion was measured, and it was backtested on the archived incident frames
    const shadow = report.rollouts.find((r) => r.mode === "shadow");
    expect(shadow, out).toBeDefined();
    expect(shadow!.champion).toBe("v1");
    expect(shadow!.waves).toBe(1);
    expect(["running", "completed", "paused", "aborted"]).toContain(shadow!.state);
    expect(out).toMatch(/^ {2}rollout {3}v2 shadow beside v1 to line-1: rol_\S+, waves cam-1 \(×2\)/m);
    const pair = report.shadowAgreement.find((p) => p.challenger === shadow!.model && p.champion === "v1");
    expect(pair?.frames, out).toBeGreaterThan(0);
    expect(pair!.agree).toBeLessThanOrEqual(pair!.frames);
    expect(pair!.interval[0]).toBeLessThanOrEqual(pair!.rate!);
    expect(pair!.interval[1]).toBeGreaterThanOrEqual(pair!.rate!);
    expect(report.backtest?.status, out).toBe("succeeded");
    expect(report.backtest!.model).toBe(shadow!.model);
    expect(report.backtest!.frames).toBeGreaterThan(0);
    expect(report.backtest!.champions).toContain("v1");
    // the reviewer judged the incident frames it replayed
    expect(report.backtest!.judged).toBeGreaterThan(0);
    expect(out).toMatch(/^ {2}backtest {2}v2 on \d+ archived frames \(\d+ with a verdict/m);
    // and the summary says all three
    expect(out).toMatch(/^ {2}rollout {3}v2 shadow beside v1: \w+/m);
    expect(out).toMatch(/^ {2}shadow {4}v2 beside v1: agreement [\d.]+ % \[/m);
    for (const r of report.rollouts.filter((x) => x.mode === "deploy")) {
      // a retrain the gate approved went out in stages; never the candidate
      expect(r.model).not.toBe(shadow!.model);
      expect(r.waves).toBe(1);
    }
    if (report.retrainInFlight) {
      // a retrain was training at Ctrl-C: it was stopped through the hub, and the summary says so
      expect(out).toContain(`cancelling the retrain in flight (run ${report.retrainInFlight.runId}`);
      expect(out).toContain(`retrain   ${report.retrainInFlight.note}`);
      expect(report.retrainInFlight.status).not.toMatch(/^(queued|running)$/);
    }
    if (report.training.firstModel === "trained") {
      // the demo's task is hard (faint defects, drifting light, rough texture, blur): the first
      // model, measured by the hub on its test split, is good but not perfect, and far above chance
      const first = report.models[0]!;
      expect(first.accuracy, out).toBeGreaterThan(0.65);
      expect(first.accuracy, out).toBeLessThan(1);
      expect(first.interval?.samples).toBeGreaterThanOrEqual(30);
      expect(first.interval!.low).toBeLessThan(first.accuracy!);
      expect(first.interval!.high).toBeGreaterThan(first.accuracy!);
      expect(first.gateReason).toBeTruthy();
      // the summary shows each model's interval and the gate's own reason
      expect(out).toMatch(/model v1 \S+.* accuracy 0\.\d{3} \[0\.\d{3}, [01]\.\d{3}\] on \d+ test frames/);
      expect(out).toMatch(/^ {12}gate: /m);
      // every epoch of the first model's training is printed, in order
      const lines = [...out.matchAll(/^ {12}epoch (\d+)\/(\d+)/gm)];
      const total = Number(lines[0]?.[2]);
      expect(total).toBeGreaterThan(1);
      expect(lines.map((m) => Number(m[1]))).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
  }, 700_000);
});
