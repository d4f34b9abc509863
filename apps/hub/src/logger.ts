import { inspect } from "node:util";

/** The subset of pino's logger the hub's parts use (Fastify's `app.log` satisfies it). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** `json`: one pino JSON object a line (for journald, shippers); `pretty`: a line a person reads. */
export type LogFormat = "json" | "pretty";

/** The format asked for, else pretty on a terminal and JSON everywhere else. */
export function chooseLogFormat(asked: LogFormat | undefined, isTTY = process.stdout.isTTY === true): LogFormat {
  return asked ?? (isTTY ? "pretty" : "json");
}

const LEVELS: Record<number, { name: string; color: number }> = {
  10: { name: "TRACE", color: 90 },
  20: { name: "DEBUG", color: 36 },
  30: { name: "INFO ", color: 32 },
  40: { name: "WARN ", color: 33 },
  50: { name: "ERROR", color: 31 },
  60: { name: "FATAL", color: 35 },
};
/** pino's own fields, and those that are the same on every line of one process */
const HIDDEN = new Set(["level", "time", "msg", "pid", "hostname", "v", "req", "res", "err", "responseTime"]);

/**
 * One pino JSON line as `12:04:05.123 INFO  message key=value …`: the time (local), the level,
 * a request as `GET /path → 200 (3.1 ms)`, other fields as key=value, an error's stack below.
 * A line that is not JSON is passed through unchanged.
 */
export function formatLogLine(line: string, color: boolean): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith("\n") ? line : `${line}\n`;
  }
  const paint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const level = LEVELS[Number(o.level)] ?? { name: String(o.level).toUpperCase().padEnd(5), color: 0 };
  const t = new Date(typeof o.time === "number" ? o.time : Date.now());
  const time = `${t.toTimeString().slice(0, 8)}.${String(t.getMilliseconds()).padStart(3, "0")}`;
  const parts = [paint(90, time), paint(level.color, level.name)];
  const req = o.req as { method?: string; url?: string } | undefined;
  const res = o.res as { statusCode?: number } | undefined;
  if (typeof o.msg === "string") parts.push(o.msg);
  if (req?.method) parts.push(`${req.method} ${req.url ?? ""}`);
  if (res?.statusCode !== undefined) {
    const ms = typeof o.responseTime === "number" ? ` (${o.responseTime.toFixed(1)} ms)` : "";
    parts.push(`→ ${res.statusCode}${ms}`);
  }
  for (const [k, v] of Object.entries(o)) {
    if (HIDDEN.has(k) || v === undefined) continue;
    const text = typeof v === "string" ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v);
    parts.push(paint(90, `${k}=`) + text);
  }
  let out = parts.join(" ");
  const err = o.err as { type?: string; message?: string; stack?: string; code?: string } | undefined;
  if (err) {
    const head = `${err.type ?? "Error"}${err.code ? ` ${err.code}` : ""}: ${err.message ?? inspect(err)}`;
    out += `\n  ${err.stack ? err.stack.split("\n").join("\n  ") : head}`;
  }
  return `${out}\n`;
}

/** A pino destination that writes each line through formatLogLine (colours when `out` is a terminal). */
export function prettyLogStream(out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): {
  write(line: string): boolean;
} {
  const color = out.isTTY === true && !process.env.NO_COLOR;
  return { write: (line: string) => out.write(formatLogLine(line, color)) };
}
