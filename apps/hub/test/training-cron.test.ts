import { describe, expect, it } from "vitest";
import { CronSchedule } from "../src/training/cron-schedule.js";

describe("cron schedules of training triggers (UTC)", () => {
  it("matches minutes, hours, ranges, lists and steps", () => {
    const c = CronSchedule.parse("*/15 2-4 * * 1,3");
    expect(c.matches(new Date("2025-01-06T02:30:00Z"))).toBe(true); // Monday
    expect(c.matches(new Date("2025-01-06T02:31:00Z"))).toBe(false);
    expect(c.matches(new Date("2025-01-06T05:00:00Z"))).toBe(false);
    expect(c.matches(new Date("2025-01-07T03:00:00Z"))).toBe(false); // Tuesday
    expect(CronSchedule.parse("0 0 * * 7").matches(new Date("2025-01-05T00:00:00Z"))).toBe(true); // Sunday as 7
  });

  it("with both day fields restricted, either matches (Vixie cron)", () => {
    const c = CronSchedule.parse("0 12 1 * 5");
    expect(c.matches(new Date("2025-02-01T12:00:00Z"))).toBe(true); // the 1st, a Saturday
    expect(c.matches(new Date("2025-01-03T12:00:00Z"))).toBe(true); // a Friday
    expect(c.matches(new Date("2025-01-04T12:00:00Z"))).toBe(false);
  });

  it("finds the first matching minute after a moment, or null within the window", () => {
    const c = CronSchedule.parse("30 3 * * *");
    expect(c.firstMatch(new Date("2025-01-01T03:29:59Z"), new Date("2025-01-01T04:00:00Z"))?.toISOString()).toBe(
      "2025-01-01T03:30:00.000Z",
    );
    // the minute of `after` itself was already checked
    expect(c.firstMatch(new Date("2025-01-01T03:30:10Z"), new Date("2025-01-01T04:00:00Z"))).toBeNull();
  });

  it("rejects malformed expressions with KENSA_ERR_CRON_INVALID naming the field", () => {
    expect(() => CronSchedule.parse("* * * *")).toThrow(/5 \(minute/);
    expect(() => CronSchedule.parse("61 * * * *")).toThrowError(
      expect.objectContaining({ code: "KENSA_ERR_CRON_INVALID" }),
    );
    expect(() => CronSchedule.parse("* 5-2 * * *")).toThrow(/hour field/);
    expect(() => CronSchedule.parse("* * * * mon")).toThrow(/day-of-week/);
  });
});
