import { describe, expect, it } from "vitest";
import { applyFlags, parseAge, parseBytes } from "../src/commands/retention-command.js";

describe("kensa retention flags", () => {
  it("parses ages and sizes, and merges flags into the project's own settings", () => {
    expect([parseAge("30"), parseAge("30d"), parseAge("none"), parseAge("default")]).toEqual([30, 30, null, "default"]);
    expect(() => parseAge("0d")).toThrow(/not an age/);
    expect([parseBytes("500MB"), parseBytes("10G"), parseBytes("2TiB"), parseBytes("1024")]).toEqual([
      500 * 1024 ** 2,
      10 * 1024 ** 3,
      2 * 1024 ** 4,
      1024,
    ]);
    expect(() => parseBytes("lots")).toThrow(/not a size/);
    expect(
      applyFlags(
        { frames: { maxAgeDays: 5 }, clips: { maxBytes: 1 } },
        { framesMaxAge: "default", eventsMaxBytes: null },
      ),
    ).toEqual({
      clips: { maxBytes: 1 },
      events: { maxBytes: null },
    });
  });
});
