import { isKensaError } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assignGroupKeys } from "../src/datasets/group-key.js";
import { compileSafePattern, translate } from "../src/datasets/safe-pattern.js";
import { allSamples, createProject, image, importArchive, pack } from "./datasets-fixtures.js";
import { startHub, type TestHub } from "./helpers.js";

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return isKensaError(err) ? err.code : `uncoded: ${String(err)}`;
  }
  return undefined;
}

describe("safe patterns (linear-time matching of user-supplied regular expressions)", () => {
  it("matches like RegExp on the patterns datasets use, with JavaScript's named groups and \\u", () => {
    const cases: Array<[string, string]> = [
      ["([^/]+)_\\d+\\.(jpg|png)$", "IMAGES/scratch_1.jpg"],
      ["(lot\\d+)_", "a/lot42_7.png"],
      ["exp\\d+_num_(\\d+)", "tile/exp3_num_3223.jpg"],
      ["(?<cls>[a-z]+)-\\d", "x/dent-9.png"],
      ["\\u0041(b)", "xAb"],
      ["^([^/]*)/", "no-slash.jpg"],
      ["(a)|(b)", "b"],
    ];
    for (const [src, input] of cases) {
      expect(compileSafePattern(src, "groupKey").exec(input), src).toEqual(
        (() => {
          const m = new RegExp(src).exec(input);
          return m ? Array.from(m) : null;
        })(),
      );
    }
  });

  it("refuses backreferences, lookaround and oversized patterns with KENSA_ERR_PATTERN_UNSUPPORTED", () => {
    for (const src of ["(a)\\1", "(?<x>a)\\k<x>", "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b", "x".repeat(513)]) {
      expect(
        codeOf(() => compileSafePattern(src, "groupKey")),
        src,
      ).toBe("KENSA_ERR_PATTERN_UNSUPPORTED");
    }
    // valid RE2, but ~2,000 instructions: over the program budget
    expect(codeOf(() => compileSafePattern("(a?){400}a{400}", "groupKey"))).toBe("KENSA_ERR_PATTERN_UNSUPPORTED");
    // inside a class, `\1` is no backreference: RE2 judges it (invalid escape)
    expect(translate("[\\1]")).toBe("[\\1]");
    expect(translate("[(?=]")).toBe("[(?=]");
    expect(codeOf(() => compileSafePattern("(", "groupKey"))).toBe("KENSA_ERR_VALIDATION");
    expect(codeOf(() => compileSafePattern("a\\Z", "groupKey"))).toBe("KENSA_ERR_VALIDATION");
  });

  it("(a+)+b over 10,000 long file names finishes in well under a second", async () => {
    const paths = Array.from({ length: 10_000 }, (_, i) => `ok/${"a".repeat(40 + (i % 20))}_${i}.jpg`);
    const t0 = performance.now();
    const keys = await assignGroupKeys(paths, "regex:(a+)+b");
    const ms = performance.now() - t0;
    expect(keys.every((k) => k === null)).toBe(true);
    // Node's backtracking RegExp needs ~2^40 steps for one of these names
    expect(ms).toBeLessThan(3_000);
    const matched = await assignGroupKeys(["x/aaab_1.jpg"], "regex:(a+)+b");
    expect(matched).toEqual(["re:aaa"]);
  });
});

describe("a pathological pattern in an import does not freeze the hub", () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startHub();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("imports with groupKey=regex:(a+)+b over long names while /health keeps answering", async () => {
    const p = await createProject(t.call, "redos", "classification", ["ok"], ["ok"]);
    const files = await Promise.all(
      Array.from({ length: 120 }, async (_, i) => ({
        path: `ok/${"a".repeat(36 + (i % 10))}_${i}.jpg`,
        data: await image(1000 + i),
      })),
    );
    const archive = pack(files, "zip");
    const rtts: number[] = [];
    let done = false;
    const poll = (async () => {
      while (!done) {
        const t0 = performance.now();
        const res = await fetch(`${t.httpUrl}/health`);
        await res.arrayBuffer();
        expect(res.status).toBe(200);
        rtts.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const t0 = performance.now();
    const r = await importArchive(t.call, p, archive, { format: "imagefolder", groupKey: "regex:(a+)+b" });
    const importMs = performance.now() - t0;
    done = true;
    await poll;
    expect(r.json.status).toBe("succeeded");
    expect(r.json.result?.ok).toBe(120);
    expect(importMs).toBeLessThan(30_000);
    // the hub answered throughout: several health checks ran during the import, none stalled
    expect(rtts.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...rtts)).toBeLessThan(1_000);
    // no name contains a `b`: every sample falls back to its own group
    expect((await allSamples(t.call, p)).every((s) => s.groupKey === null)).toBe(true);
  });

  it("refuses unsupported syntax before the import starts, with a coded error", async () => {
    const p = await createProject(t.call, "redos-refused", "classification", ["ok"], ["ok"]);
    const archive = pack([{ path: "ok/a_1.jpg", data: await image(1) }], "tar");
    const backref = await importArchive(t.call, p, archive, { format: "imagefolder", groupKey: "regex:(a)\\1" });
    expect(backref.status).toBe(400);
    expect(backref.json.error?.code).toBe("KENSA_ERR_PATTERN_UNSUPPORTED");
    expect(backref.json.error?.message).toContain("groupKey");
    const look = await importArchive(t.call, p, archive, { format: "imagefolder", classFrom: "regex:(?=ok)(\\w+)" });
    expect(look.status).toBe(400);
    expect(look.json.error?.code).toBe("KENSA_ERR_PATTERN_UNSUPPORTED");
    expect(look.json.error?.message).toContain("classFrom");
    expect(await allSamples(t.call, p)).toEqual([]);
  });
});
