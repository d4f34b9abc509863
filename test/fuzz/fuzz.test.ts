import { afterAll, describe, expect, it } from "vitest";
import { runTarget } from "./harness.js";
import { cleanupArchiveFiles, fuzzTargets } from "./targets/index.js";

/*
 * The fast subset of the fuzz targets (a few hundred cases each, a fresh seed every run; a
 * failure prints the seed and the shrunk counterexample). The long run is
 * `npm run bench -- fuzz`; KENSA_FUZZ_RUNS scales this one (e.g. 10 for 10× the cases).
 */
const scale = Number(process.env.KENSA_FUZZ_RUNS ?? 1);

afterAll(() => cleanupArchiveFiles());

describe("fuzz targets: no crash, no hang, only coded errors", () => {
  for (const { target, fastRuns } of fuzzTargets) {
    it(`${target.name}: ${target.covers}`, async () => {
      const outcome = await runTarget(target, Math.round(fastRuns * scale));
      expect(outcome.failure ?? "no failure").toBe("no failure");
      expect(outcome.cases).toBeGreaterThanOrEqual(fastRuns * scale * 0.9);
    });
  }
});
