import { describe, expect, it } from "vitest";
import { ingestMarkdown } from "../bench/ingest/ingest-report.js";
import { runIngest } from "../bench/ingest.js";

// The ingest bench runs only when asked; this short run keeps its harness from rotting.
describe("ingest bench harness", () => {
  it("stores every event of 2 devices on embedded Aedes + SQLite once, with figures to report", async () => {
    const run = await runIngest({ modes: ["embedded-sqlite"], deviceCounts: [2], seconds: 2, window: 16 });
    expect(run.skipped).toEqual([]);
    expect(run.cells.map((c) => c.load)).toEqual(["max", "half"]);
    for (const c of run.cells) {
      expect(c.published).toBeGreaterThan(0);
      expect(c.stored).toBe(c.published - c.unconfirmed);
      expect(c.lost).toBe(0);
      expect(c.duplicated).toBe(0);
      expect(c.unconfirmed).toBe(0);
      expect(c.rate).toBeGreaterThan(0);
      expect(c.p99).toBeGreaterThanOrEqual(c.p50);
      expect(c.p50).toBeGreaterThan(0);
      expect(c.hubCpuUs).toBeGreaterThan(0);
    }
    const md = ingestMarkdown({ ...run, seconds: 2, window: 16 });
    expect(md).toContain("| embedded Aedes + SQLite | 2 | max |");
    expect(md).toContain("embedded Aedes + SQLite ≥ 50 % of the bare Aedes rate: not measured");
  }, 120_000);
});
