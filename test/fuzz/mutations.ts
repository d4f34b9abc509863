import fc from "fast-check";

/** Values that break parsers most often: wrong types, extremes, empties. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1e308, -1e308, 2 ** 53, 0.5, "", "x", [], {}, [null], { "": null }),
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 16 }),
  fc.integer(),
);

/** Every path (list of keys) into a JSON value, the root included. */
function pathsOf(v: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  out.push(prefix);
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) pathsOf(x, [...prefix, i], out);
  } else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) pathsOf(x, [...prefix, k], out);
  return out;
}

function replaceAt(v: unknown, path: Array<string | number>, by: unknown, drop: boolean): unknown {
  if (path.length === 0) return by;
  const [head, ...rest] = path;
  if (Array.isArray(v)) {
    const copy = [...v];
    if (drop && rest.length === 0) copy.splice(head as number, 1);
    else copy[head as number] = replaceAt(copy[head as number], rest, by, drop);
    return copy;
  }
  const copy = { ...(v as Record<string, unknown>) };
  if (drop && rest.length === 0) delete copy[head as string];
  else copy[head as string] = replaceAt(copy[head as string], rest, by, drop);
  return copy;
}

/** `base` with 1..3 of its nodes replaced by hostile values or removed. */
export function mutatedJson(base: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc
    .tuple(base, fc.array(fc.tuple(fc.nat(), hostileValue, fc.boolean()), { minLength: 1, maxLength: 3 }))
    .map(([v, edits]) => {
      let out = v;
      for (const [pick, by, drop] of edits) {
        const paths = pathsOf(out);
        out = replaceAt(out, paths[pick % paths.length]!, by, drop);
      }
      return out;
    });
}

type ByteEdit =
  | { op: "flip"; at: number; value: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; length: number }
  | { op: "u32"; at: number; value: number }
  | { op: "u16"; at: number; value: number };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }),
  }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    op: fc.constant("u32" as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, 0x80000000, 0xffff, 0x10000),
  }),
  fc.record({ op: fc.constant("u16" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 0xffff, 0x8000, 0xfffe) }),
);

function applyEdit(b: Uint8Array, e: ByteEdit): Uint8Array {
  if (b.length === 0) return e.op === "insert" ? e.bytes : b;
  const at = e.at % b.length;
  switch (e.op) {
    case "flip": {
      const c = Uint8Array.from(b);
      c[at] = e.value;
      return c;
    }
    case "truncate":
      return b.subarray(0, at);
    case "insert":
      return concat(b.subarray(0, at), e.bytes, b.subarray(at));
    case "delete":
      return concat(b.subarray(0, at), b.subarray(at + e.length));
    case "u32": {
      const c = Uint8Array.from(b);
      if (at + 4 <= c.length) new DataView(c.buffer).setUint32(at, e.value, at % 2 === 0);
      return c;
    }
    case "u16": {
      const c = Uint8Array.from(b);
      if (at + 2 <= c.length) new DataView(c.buffer).setUint16(at, e.value, at % 2 === 0);
      return c;
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `base` with 1..`maxEdits` byte edits: flips, cuts, inserts, deletes, extreme length fields. */
export function mutatedBytes(base: fc.Arbitrary<Uint8Array>, maxEdits = 4): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(base, fc.array(byteEdit, { minLength: 1, maxLength: maxEdits }))
    .map(([b, edits]) => edits.reduce(applyEdit, b));
}

/** Arbitrary bytes, half of them starting with one of `magics` so parsers get past the first check. */
export function bytesAfterMagic(magics: readonly Uint8Array[], maxLength = 256): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength }),
    fc.tuple(fc.constantFrom(...magics), fc.uint8Array({ maxLength })).map(([m, rest]) => concat(m, rest)),
  );
}
