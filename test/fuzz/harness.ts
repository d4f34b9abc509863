/**
 * Fuzz targets: property-based tests (fast-check) over the parsers that read what devices,
 * users and archives send. One definition serves `npm test` (a few hundred cases per target)
 * and the bench (`npm run bench -- fuzz`, ≥ 100,000 cases in all). Each property states: no
 * crash, no hang (a per-case time budget), only coded errors (a KensaError, or the module's
 * documented failure value), plus round-trip or invariant checks where the data allows.
 */
import { type ErrorCode, isKensaError } from "@kensa/contracts";
import fc from "fast-check";

/** One property of a target, built by fuzzProperty(). */
export interface FuzzProperty {
  name: string;
  /** relative share of the target's runs */
  weight: number;
  check(numRuns: number, seed: number | undefined): Promise<PropertyResult>;
}

interface PropertyResult {
  cases: number;
  /** the (shrunk) counterexample and what it raised; undefined when every case passed */
  failure?: string;
}

/**
 * A property whose every case must finish within `budgetMs` ms: async cases are stopped by
 * fast-check's timeout, synchronous ones are timed by timed() and fail after the fact.
 */
export function fuzzProperty<Ts>(
  name: string,
  opts: { budgetMs: number; weight?: number },
  make: (budgetMs: number) => fc.IRawProperty<Ts>,
): FuzzProperty {
  return {
    name,
    weight: opts.weight ?? 1,
    async check(numRuns, seed) {
      const details = await fc.check(make(opts.budgetMs), {
        numRuns,
        ...(seed !== undefined ? { seed } : {}),
        timeout: opts.budgetMs * 4,
        endOnFailure: false,
      });
      if (!details.failed) return { cases: details.numRuns };
      return {
        cases: details.numRuns,
        failure: `${name} (seed ${details.seed}, path ${details.counterexamplePath}): ${describe(details.counterexample)} → ${errorText(details.errorInstance)}`,
      };
    },
  };
}

export interface FuzzTarget {
  /** short id: `mqtt-payloads`, `zip-tar` */
  name: string;
  /** what the target feeds and to which module */
  covers: string;
  properties: FuzzProperty[];
}

export interface FuzzOutcome {
  target: string;
  cases: number;
  failures: number;
  ms: number;
  /** the first failing property and its (shrunk) counterexample */
  failure?: string;
}

/** Runs every property of a target, `runs` cases shared by weight; never throws. */
export async function runTarget(target: FuzzTarget, runs: number, seed?: number): Promise<FuzzOutcome> {
  const total = target.properties.reduce((s, p) => s + p.weight, 0);
  const outcome: FuzzOutcome = { target: target.name, cases: 0, failures: 0, ms: 0 };
  const t0 = performance.now();
  for (const p of target.properties) {
    const r = await p.check(Math.max(1, Math.round((runs * p.weight) / total)), seed);
    outcome.cases += r.cases;
    if (r.failure) {
      outcome.failures++;
      outcome.failure ??= r.failure;
    }
  }
  outcome.ms = Math.round(performance.now() - t0);
  return outcome;
}

/** Fails a case that took longer than `budgetMs` (a hang the property cannot interrupt). */
export function timed<A extends unknown[]>(budgetMs: number, body: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    const t0 = performance.now();
    body(...args);
    const ms = performance.now() - t0;
    if (ms > budgetMs) throw new Error(`one case took ${Math.round(ms)} ms, over its ${budgetMs} ms budget`);
  };
}

/** The async form of timed(). */
export function timedAsync<A extends unknown[]>(
  budgetMs: number,
  body: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const t0 = performance.now();
    await body(...args);
    const ms = performance.now() - t0;
    if (ms > budgetMs) throw new Error(`one case took ${Math.round(ms)} ms, over its ${budgetMs} ms budget`);
  };
}

/** Uncoded failure: anything a caller could not map to a stable code. */
export class UncodedError extends Error {}

/**
 * Runs `f`; its value, or the KensaError it threw when the code is one of `codes` (any code
 * when omitted). Any other throw becomes an UncodedError naming what escaped.
 */
export async function coded<T>(codes: readonly ErrorCode[] | null, f: () => T | Promise<T>): Promise<T | Coded> {
  try {
    return await f();
  } catch (err) {
    return asCoded(codes, err);
  }
}

/** The synchronous form of coded(). */
export function codedSync<T>(codes: readonly ErrorCode[] | null, f: () => T): T | Coded {
  try {
    return f();
  } catch (err) {
    return asCoded(codes, err);
  }
}

/** A KensaError a target accepted as a refusal. */
export interface Coded {
  refused: ErrorCode;
  message: string;
}

export function isRefusal(v: unknown): v is Coded {
  return typeof v === "object" && v !== null && "refused" in v && typeof (v as Coded).refused === "string";
}

function asCoded(codes: readonly ErrorCode[] | null, err: unknown): Coded {
  if (isKensaError(err) && (codes === null || codes.includes(err.code)))
    return { refused: err.code, message: err.message };
  const what = isKensaError(err) ? `unexpected code ${err.code}` : `uncoded ${(err as Error)?.constructor?.name}`;
  throw new UncodedError(`${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

function describe(v: unknown): string {
  const s = fc.stringify(v);
  return s.length > 600 ? `${s.slice(0, 600)}…` : s;
}

function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message}`;
  return String(e);
}
