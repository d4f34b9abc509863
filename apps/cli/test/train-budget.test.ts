import { spawnSync } from "node:child_process";
import { repoRoot } from "@kensa/testkit";
import { describe, expect, it } from "vitest";
import { parseBudget } from "../src/commands/train-command.js";

describe("kensa train --budget", () => {
  it("reads s, m and h (and their sums) as seconds", () => {
    expect(parseBudget("90s")).toBe(90);
    expect(parseBudget("20m")).toBe(1200);
    expect(parseBudget("1.5h")).toBe(5400);
    expect(parseBudget("1h30m")).toBe(5400);
    expect(parseBudget(" 2m30s ")).toBe(150);
  });

  it("refuses a time without unit, out of range or malformed, naming the flag", () => {
    for (const bad of ["20", "", "m", "5s", "8d", "200h", "20 minutes", "-5m"]) {
      expect(() => parseBudget(bad), bad).toThrow(/--budget must be a time of 10s to 168h/);
    }
  });

  it("a bad budget fails before anything reaches the hub", () => {
    const run = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "apps/cli/src/main.ts",
        "train",
        "--project",
        "p",
        "--hub",
        "http://127.0.0.1:9",
        "--budget",
        "soon",
      ],
      { cwd: repoRoot, encoding: "utf8" },
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("--budget must be a time");
  });
});
