import { spawnSync } from "node:child_process";
import { repoRoot } from "@kensa/testkit";
import { describe, expect, it } from "vitest";
import { tilingFlag } from "../src/commands/tile-flag.js";

describe("kensa train --tile / --no-tile", () => {
  it("reads square and WxH tiles, the overlap, and --no-tile", () => {
    expect(tilingFlag("256", undefined)).toEqual({ width: 256, height: 256 });
    expect(tilingFlag("320x240", 48)).toEqual({ width: 320, height: 240, overlap: 48 });
    expect(tilingFlag(false, undefined)).toBe(false);
    expect(tilingFlag(undefined, undefined)).toBeUndefined();
  });

  it("refuses malformed sizes and an overlap without tiles, naming the flag", () => {
    for (const bad of ["", "big", "8", "256x", "x256", "256x99999", "-256"]) {
      expect(() => tilingFlag(bad, undefined), bad).toThrow(/--tile must be a tile size of 16 to 8192 px/);
    }
    expect(() => tilingFlag(undefined, 16)).toThrow(/--tile-overlap needs --tile/);
    expect(() => tilingFlag(false, 16)).toThrow(/--tile-overlap needs --tile, not --no-tile/);
  });

  it("a bad tile fails before anything reaches the hub", () => {
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
        "--tile",
        "huge",
      ],
      { cwd: repoRoot, encoding: "utf8" },
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("KENSA_ERR_FLAG_INVALID");
    expect(run.stderr).toContain("--tile must be a tile size");
  });
});
