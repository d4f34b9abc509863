/** Log levels in increasing severity. */
export const logLevels = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof logLevels)[number];

export type LogFields = Record<string, unknown>;

/**
 * JSON-lines logger on stdout (`{ts, level, msg, ...fields}`), so a device's journal can be
 * shipped and queried without parsing prose. Never pass secrets in fields.
 */
export class Logger {
  readonly #min: number;
  readonly #bound: LogFields;
  readonly #write: (line: string) => void;

  constructor(
    level: LogLevel = parseLevel(process.env.KENSA_LOG_LEVEL),
    bound: LogFields = {},
    write: (line: string) => void = (line) => process.stdout.write(line),
  ) {
    this.#min = logLevels.indexOf(level);
    this.#bound = bound;
    this.#write = write;
  }

  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger {
    return new Logger(logLevels[this.#min], { ...this.#bound, ...fields }, this.#write);
  }

  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }

  #log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (logLevels.indexOf(level) < this.#min) return;
    const line = { ts: new Date().toISOString(), level, msg, ...this.#bound, ...fields };
    this.#write(`${JSON.stringify(line, replaceErrors)}\n`);
  }
}

export function parseLevel(value: string | undefined): LogLevel {
  return (logLevels as readonly string[]).includes(value ?? "") ? (value as LogLevel) : "info";
}

/** Errors serialize to `{}` by default; keep what an operator needs. */
function replaceErrors(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code !== undefined ? { code } : {}) };
  }
  return value;
}
