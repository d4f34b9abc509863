import { describe, expect, it } from "vitest";
import { Event, newEventId } from "../src/index.js";
import { compile } from "../src/validate.js";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("newEventId", () => {
  it("is a version 7 UUID that starts with its time in milliseconds", () => {
    const at = Date.parse("2026-12-07T16:00:00.123Z");
    const id = newEventId(at);
    expect(id).toMatch(V7);
    expect(Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(at);
  });

  it("sorts by creation time across milliseconds and never repeats", () => {
    const ids: string[] = [];
    for (let ms = 0; ms < 2000; ms++) ids.push(newEventId(1_700_000_000_000 + ms));
    expect([...ids].sort()).toEqual(ids);
    const many = new Set(Array.from({ length: 20_000 }, () => newEventId(1_700_000_000_000)));
    expect(many.size).toBe(20_000);
  });

  it("is a valid event id", () => {
    const event = {
      v: 1,
      id: newEventId(),
      seq: 1,
      deviceId: "cam-01",
      pipeline: "main",
      sourceId: "cam",
      ts: new Date().toISOString(),
      bundle: { sha256: "0".repeat(64), modelVersionId: "mdl_1" },
      frame: { width: 8, height: 8, meta: {} },
      result: { task: "classification", label: "ok", score: 0.9, scores: { ok: 0.9 }, finding: false },
      latencyMs: { preprocess: 1, inference: 1, total: 2 },
      media: false,
    };
    expect(compile(Event).issues(event)).toEqual([]);
  });
});
