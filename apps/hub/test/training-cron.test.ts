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

  it("reads open steps, long steps and Sunday-as-7 the Vixie way", () => {
    // 6/1 is Saturday through day 7, Sunday
    const weekend = CronSchedule.parse("0 9 * * 6/1");
    expect(weekend.matches(new Date("2025-01-04T09:00:00Z"))).toBe(true); // Saturday
    expect(weekend.matches(new Date("2025-01-05T09:00:00Z"))).toBe(true); // Sunday
    expect(weekend.matches(new Date("2025-01-06T09:00:00Z"))).toBe(false);
    expect(
      CronSchedule.parse("0 9 * * 7/1").firstMatch(new Date("2025-01-01T00:00:00Z"), new Date("2025-02-01T00:00:00Z")),
    ).toEqual(new Date("2025-01-05T09:00:00Z"));
    // a step longer than the field reaches only its start
    const hourly = CronSchedule.parse("*/90 * * * *");
    expect(hourly.matches(new Date("2025-01-01T05:00:00Z"))).toBe(true);
    expect(hourly.matches(new Date("2025-01-01T05:30:00Z"))).toBe(false);
    expect(CronSchedule.parse("0 0 10/40 * *").matches(new Date("2025-03-10T00:00:00Z"))).toBe(true);
  });

  it("is evaluated in UTC whatever the hub's time zone", () => {
    const tz = process.env.TZ;
    process.env.TZ = "America/New_York";
    try {
      const c = CronSchedule.parse("30 3 * * *");
      expect(c.matches(new Date("2025-07-01T03:30:00Z"))).toBe(true);
      expect(c.firstMatch(new Date("2025-03-09T00:00:00Z"), new Date("2025-03-10T00:00:00Z"))).toEqual(
        new Date("2025-03-09T03:30:00Z"),
      );
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it("finds the first match after a long gap, and none for a date that never comes", () => {
    const c = CronSchedule.parse("0 6 1 1 *");
    expect(c.firstMatch(new Date("2025-01-01T06:00:00Z"), new Date("2027-01-01T00:00:00Z"))).toEqual(
      new Date("2026-01-01T06:00:00Z"),
    );
    expect(
      CronSchedule.parse("0 0 31 2 *").firstMatch(new Date("2025-01-01T00:00:00Z"), new Date("2030-01-01T00:00:00Z")),
    ).toBeNull();
  });

  it("refuses what only some crons understand: seconds, names, L, W, #, ?, nicknames", () => {
    for (const e of ["0 0 0 * * *", "0 0 * * MON", "0 0 L * *", "0 0 1W * *", "0 0 * * 5#2", "? * * * *", "@daily"]) {
      expect(() => CronSchedule.parse(e), e).toThrowError(expect.objectContaining({ code: "KENSA_ERR_CRON_INVALID" }));
    }
    // a stepped range must stay inside its field too
    expect(() => CronSchedule.parse("0 0 4-32/3 * *")).toThrow(/day-of-month field "4-32\/3" is outside 1-31/);
    expect(() => CronSchedule.parse("*/0 * * * *")).toThrow(/minute field "\*\/0" has a step below 1/);
  });
});
