import { FormatRegistry, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import { type ErrorCode, KensaError } from "./errors.js";

if (!FormatRegistry.Has("date-time")) {
  FormatRegistry.Set("date-time", (v) => !Number.isNaN(Date.parse(v)) && /^\d{4}-\d{2}-\d{2}T/.test(v));
}

export interface Issue {
  /** JSON pointer style key path, e.g. `/broker/port` */
  path: string;
  message: string;
}

export interface Checker<T extends TSchema> {
  check(value: unknown): value is Static<T>;
  issues(value: unknown): Issue[];
}

/** Compiles a schema once; use on hot paths (MQTT ingest). */
export function compile<T extends TSchema>(schema: T): Checker<T> {
  const c = TypeCompiler.Compile(schema);
  return {
    check: (v): v is Static<T> => c.Check(v),
    issues: (v) => [...c.Errors(v)].slice(0, 20).map((e) => ({ path: e.path || "/", message: e.message })),
  };
}

/**
 * Applies schema defaults to a copy, rejects unknown keys (schemas set additionalProperties
 * false) and returns the frozen value, or throws a KensaError naming every bad key path.
 */
export function parseWith<T extends TSchema>(
  schema: T,
  input: unknown,
  code: ErrorCode = "KENSA_ERR_VALIDATION",
  what = "input",
): Static<T> {
  const value = Value.Default(schema, Value.Clone(input ?? {}));
  if (!Value.Check(schema, value)) {
    const issues = [...Value.Errors(schema, value)]
      .slice(0, 20)
      .map((e) => ({ path: e.path || "/", message: e.message }));
    const list = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    throw new KensaError(code, `${what} is invalid: ${list}`, { issues });
  }
  return deepFreeze(value as Static<T>);
}

export function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
