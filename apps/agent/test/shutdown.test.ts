import { describe, expect, it } from "vitest";
import { Logger } from "../src/logger.js";
import { shutDownInSteps } from "../src/shutdown.js";

/** A logger whose lines the test reads. */
function recording() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: new Logger("debug", {}, (line) => lines.push(JSON.parse(line))) };
}

describe("agent shutdown steps", () => {
  it("runs every step in order; a failing step is logged by name and the rest still run", async () => {
    const { lines, log } = recording();
    const ran: string[] = [];
    const boom = new Error("disk gone");
    const stopping = shutDownInSteps(
      [
        { name: "sources", run: async () => ran.push("sources") },
        {
          name: "uploads",
          run: async () => {
            ran.push("uploads");
            throw boom;
          },
        },
        { name: "mqtt", run: () => ran.push("mqtt") },
        {
          name: "models",
          run: () => {
            throw new Error("second");
          },
        },
        { name: "database", run: async () => ran.push("database") },
      ],
      log,
    );
    await expect(stopping).rejects.toBe(boom);
    expect(ran).toEqual(["sources", "uploads", "mqtt", "database"]);
    const failed = lines.filter((l) => l.msg === "agent shutdown: a step failed; going on");
    expect(failed.map((l) => [l.level, l.step])).toEqual([
      ["error", "uploads"],
      ["error", "models"],
    ]);
  });

  it("says which step it is still waiting for when one is slow", async () => {
    const { lines, log } = recording();
    await shutDownInSteps(
      [
        { name: "quick", run: () => undefined },
        { name: "outbox flush", run: () => new Promise((r) => setTimeout(r, 130)) },
      ],
      log,
      50,
    );
    const waiting = lines.filter((l) => l.msg === "agent shutdown: still waiting");
    expect(waiting.length).toBeGreaterThanOrEqual(2);
    expect(waiting.every((l) => l.level === "warn" && l.step === "outbox flush")).toBe(true);
    expect(waiting[0]?.waitingMs).toBeGreaterThanOrEqual(45);
  });
});
