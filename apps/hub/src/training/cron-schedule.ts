import { KensaError } from "@kensa/contracts";

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day-of-week", min: 0, max: 7 },
] as const;

/**
 * A 5-field cron expression (minute hour day-of-month month day-of-week) evaluated in UTC,
 * with `*`, lists, ranges and `/steps`; day-of-week 0 and 7 are Sunday. As in Vixie cron, when
 * both day fields are restricted a day matches if either does. Written here rather than taken
 * as a dependency: triggers need only "does this minute match".
 */
export class CronSchedule {
  readonly expression: string;
  #sets: Set<number>[];
  #domStar: boolean;
  #dowStar: boolean;

  private constructor(expression: string, sets: Set<number>[], domStar: boolean, dowStar: boolean) {
    this.expression = expression;
    this.#sets = sets;
    this.#domStar = domStar;
    this.#dowStar = dowStar;
  }

  /** throws KENSA_ERR_CRON_INVALID naming the field */
  static parse(expression: string): CronSchedule {
    const parts = expression.trim().split(/\s+/);
    if (parts.length !== 5) {
      throw new KensaError(
        "KENSA_ERR_CRON_INVALID",
        `cron "${expression}" has ${parts.length} fields; expected 5 (minute hour day-of-month month day-of-week)`,
      );
    }
    const sets = parts.map((p, i) => parseField(p, FIELDS[i]!, expression));
    const dow = sets[4]!;
    if (dow.has(7)) dow.add(0);
    return new CronSchedule(expression, sets, parts[2] === "*", parts[4] === "*");
  }

  /** whether the minute containing `t` matches */
  matches(t: Date): boolean {
    const [min, hour, dom, month, dow] = this.#sets as [
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
    ];
    if (!min.has(t.getUTCMinutes()) || !hour.has(t.getUTCHours()) || !month.has(t.getUTCMonth() + 1)) return false;
    const domOk = dom.has(t.getUTCDate());
    const dowOk = dow.has(t.getUTCDay());
    if (this.#domStar || this.#dowStar) return domOk && dowOk;
    return domOk || dowOk;
  }

  /** the first matching minute start in (after, until], or null; scans at most `until − after` */
  firstMatch(after: Date, until: Date): Date | null {
    const t = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000);
    for (; t.getTime() <= until.getTime(); t.setTime(t.getTime() + 60_000)) {
      if (this.matches(t)) return new Date(t);
    }
    return null;
  }
}

function parseField(text: string, f: (typeof FIELDS)[number], expression: string): Set<number> {
  const bad = (why: string) =>
    new KensaError("KENSA_ERR_CRON_INVALID", `cron "${expression}": ${f.name} field "${text}" ${why}`);
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw bad(`is not *, a number, a range or a step (${f.min}-${f.max})`);
    let lo: number = f.min;
    let hi: number = f.max;
    if (m[1] !== "*") {
      lo = Number(m[2]);
      hi = m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? f.max : lo;
    }
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (lo < f.min || hi > f.max || lo > hi) throw bad(`is outside ${f.min}-${f.max}`);
    if (step < 1) throw bad("has a step below 1");
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}
