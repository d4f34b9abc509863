import { Kind, type TSchema } from "@sinclair/typebox";
import fc from "fast-check";

/** Bounds for generated values: arrays and records stay small so a case stays cheap. */
export interface SchemaArbitraryOptions {
  /** most items of an array or entries of a record (the schema's maxItems when lower) */
  maxItems?: number;
  /** strings drawn from this pool when the schema names no pattern or format (labels, ids) */
  words?: readonly string[];
}

type Schema = TSchema & Record<string, unknown>;

/**
 * Values that satisfy a TypeBox schema (the contracts' own), for properties that start from
 * valid data: "valid stays valid after a round trip", "a valid rule never crashes the runner".
 * Covers the kinds the contracts use; an unknown kind throws so a new schema is noticed.
 */
export function arbitraryOf(schema: TSchema, opts: SchemaArbitraryOptions = {}): fc.Arbitrary<unknown> {
  const s = schema as Schema;
  const maxItems = opts.maxItems ?? 4;
  const words = opts.words;
  switch (s[Kind]) {
    case "Object": {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const required = new Set((s.required as string[] | undefined) ?? []);
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) record[k] = arbitraryOf(v, opts);
      return fc.record(record, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) });
    }
    case "Array": {
      const min = (s.minItems as number | undefined) ?? 0;
      const max = Math.max(min, Math.min((s.maxItems as number | undefined) ?? maxItems, maxItems));
      const items = arbitraryOf(s.items as Schema, opts);
      return s.uniqueItems
        ? fc.uniqueArray(items, { minLength: min, maxLength: max, selector: (v) => JSON.stringify(v) })
        : fc.array(items, { minLength: min, maxLength: max });
    }
    case "Tuple":
      return fc.tuple(...((s.items as Schema[] | undefined) ?? []).map((i) => arbitraryOf(i, opts)));
    case "Record": {
      const [keyPattern, value] = Object.entries(s.patternProperties as Record<string, Schema>)[0]!;
      const max = Math.min((s.maxProperties as number | undefined) ?? maxItems, maxItems);
      const key =
        keyPattern === "^(.*)$"
          ? words
            ? fc.constantFrom(...words)
            : fc.string({ maxLength: 12 })
          : fc.stringMatching(new RegExp(keyPattern));
      return fc.dictionary(key, arbitraryOf(value, opts), { maxKeys: max });
    }
    case "Union":
      return fc.oneof(...(s.anyOf as Schema[]).map((v) => arbitraryOf(v, opts)));
    case "Literal":
      return fc.constant(s.const);
    case "Null":
      return fc.constant(null);
    case "Boolean":
      return fc.boolean();
    case "Integer":
      return fc.integer({ min: bound(s, "min", -1e6), max: bound(s, "max", 1e6) });
    case "Number": {
      const min = bound(s, "min", -1e6);
      const max = bound(s, "max", 1e6);
      return fc.double({
        min,
        max,
        noNaN: true,
        noDefaultInfinity: true,
        minExcluded: s.exclusiveMinimum !== undefined,
      });
    }
    case "String":
      return stringOf(s, words);
    case "Unknown":
    case "Any":
      return fc.jsonValue({ maxDepth: 2 });
    default:
      throw new Error(`arbitraryOf: no generator for TypeBox kind ${String(s[Kind])}`);
  }
}

function bound(s: Schema, side: "min" | "max", dflt: number): number {
  const v =
    side === "min"
      ? ((s.minimum as number | undefined) ?? (s.exclusiveMinimum as number | undefined))
      : ((s.maximum as number | undefined) ?? (s.exclusiveMaximum as number | undefined));
  return v ?? dflt;
}

function stringOf(s: Schema, words: readonly string[] | undefined): fc.Arbitrary<string> {
  if (s.format === "date-time") {
    return fc
      .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
      .map((d) => d.toISOString());
  }
  const minLength = (s.minLength as number | undefined) ?? 0;
  if (typeof s.pattern === "string") {
    const max = (s.maxLength as number | undefined) ?? Number.POSITIVE_INFINITY;
    return fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length >= minLength && v.length <= max);
  }
  const maxLength = (s.maxLength as number | undefined) ?? 40;
  const free = fc.string({ minLength, maxLength: Math.min(maxLength, Math.max(minLength, 24)) });
  if (!words) return free;
  const pooled = words.filter((w) => w.length >= minLength && w.length <= maxLength);
  return pooled.length
    ? fc.oneof({ arbitrary: fc.constantFrom(...pooled), weight: 3 }, { arbitrary: free, weight: 1 })
    : free;
}
