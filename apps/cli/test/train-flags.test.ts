import { spawnSync } from "node:child_process";
import { repoRoot } from "@kensa/testkit";
import { describe, expect, it } from "vitest";
import { parseAugment } from "../src/commands/train-command.js";

describe("kensa train flags", () => {
  it("--augment turns augmentations on, and off with a leading '-'", () => {
    expect(parseAugment("vflip,-noise")).toEqual({ vflip: true, noise: false });
    expect(parseAugment(" crop , -hflip ,")).toEqual({ crop: true, hflip: false });
    expect(() => parseAugment("vflip,mixup")).toThrow(/unknown augmentation "mixup"; known: hflip, vflip/);
  });

  it("a bad flag fails before anything reaches the hub", () => {
    const run = (...args: string[]) =>
      spawnSync(
        process.execPath,
        ["--import", "tsx", "apps/cli/src/main.ts", "train", "--project", "p", "--hub", "http://127.0.0.1:9", ...args],
        { cwd: repoRoot, encoding: "utf8" },
      );
    const augment = run("--augment", "sharpen");
    expect(augment.status).not.toBe(0);
    expect(augment.stderr).toContain('unknown augmentation "sharpen"');
    const channels = run("--input", "64x64", "--channels", "2");
    expect(channels.status).not.toBe(0);
    expect(channels.stderr).toMatch(/--channels.*choices.*1, 3|Allowed choices are 1, 3/);
    const input = run("--channels", "1");
    expect(input.status).not.toBe(0);
    expect(input.stderr).toContain("--input must be WIDTHxHEIGHT");
  });
});
