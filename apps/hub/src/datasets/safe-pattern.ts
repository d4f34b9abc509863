import { KensaError } from "@kensa/contracts";
import { RE2JS, RE2JSException } from "re2js";

/** Longest pattern accepted, in characters: a rule, not a program. */
export const MAX_PATTERN_LENGTH = 512;
/**
 * Largest compiled program accepted (RE2's rough cost measure). Matching costs up to
 * program × input: at this size a 100-character path took 2.5 ms, a 1,000-character one 25 ms.
 */
export const MAX_PATTERN_PROGRAM = 1_000;

/** A user-supplied pattern compiled for RE2JS, which matches in time linear in the input. */
export interface SafePattern {
  /** The match (index 0) and its capture groups (undefined when a group took no part), or null. */
  exec(input: string): Array<string | undefined> | null;
}

/**
 * Compiles a user-supplied regular expression (from a request, a config or a CLI flag) for a
 * linear-time engine: Node's RegExp backtracks, and `(a+)+b` over a 30-character file name
 * held the event loop for seconds. The syntax is RE2's; JavaScript's `(?<name>…)` and `\uXXXX`
 * are accepted too. Backreferences and lookaround cannot be matched in linear time and are
 * refused with `KENSA_ERR_PATTERN_UNSUPPORTED`, as are patterns over the size limits; other
 * syntax errors are `KENSA_ERR_VALIDATION`. Errors name `field` (the option, `groupKey`) and
 * `shown` (the option's whole value, e.g. `regex:<source>`).
 */
export function compileSafePattern(source: string, field: string, shown = source): SafePattern {
  const refuse = (code: "KENSA_ERR_PATTERN_UNSUPPORTED" | "KENSA_ERR_VALIDATION", why: string) =>
    new KensaError(code, `${field} "${clip(shown)}": ${why}`, {
      issues: [{ path: `/${field}`, message: why }],
    });
  if (source.length > MAX_PATTERN_LENGTH) {
    throw refuse(
      "KENSA_ERR_PATTERN_UNSUPPORTED",
      `${source.length} characters; at most ${MAX_PATTERN_LENGTH} are accepted`,
    );
  }
  const translated = translate(source);
  if (typeof translated !== "string") throw refuse("KENSA_ERR_PATTERN_UNSUPPORTED", translated.unsupported);
  let re: RE2JS;
  try {
    re = RE2JS.compile(translated);
  } catch (err) {
    if (err instanceof RE2JSException) throw refuse("KENSA_ERR_VALIDATION", err.message);
    throw err;
  }
  if (re.programSize() > MAX_PATTERN_PROGRAM) {
    throw refuse(
      "KENSA_ERR_PATTERN_UNSUPPORTED",
      `the pattern compiles to ${re.programSize()} instructions; at most ${MAX_PATTERN_PROGRAM} are accepted (lower the repeat counts)`,
    );
  }
  return {
    exec(input) {
      const m = re.exec(input);
      return m ? Array.from(m as ArrayLike<string | undefined>) : null;
    },
  };
}

/**
 * For loops that match many inputs: `await slice()` gives the event loop a turn once `ms` have
 * passed since the last one, so a long import keeps HTTP and MQTT answering between matches.
 */
export function timeSlicer(ms = 10): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < ms) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}

/**
 * JavaScript pattern syntax → RE2 syntax, or what cannot be translated. Only what RE2 spells
 * differently is rewritten; RE2 itself reports the rest.
 */
export function translate(source: string): string | { unsupported: string } {
  let out = "";
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      const next = source[i + 1];
      if (next === undefined) return `${out}\\`;
      if (!inClass && next >= "1" && next <= "9") {
        return { unsupported: `backreference \\${next} at ${i} (the linear-time matcher has none)` };
      }
      if (!inClass && next === "k" && source[i + 2] === "<") {
        return { unsupported: `named backreference at ${i} (the linear-time matcher has none)` };
      }
      if (next === "u") {
        const braced = /^\{([0-9A-Fa-f]{1,6})\}/.exec(source.slice(i + 2, i + 10));
        const four = /^[0-9A-Fa-f]{4}/.exec(source.slice(i + 2, i + 6));
        if (braced) {
          out += `\\x{${braced[1]}}`;
          i += 1 + braced[0].length;
          continue;
        }
        if (four) {
          out += `\\x{${four[0]}}`;
          i += 5;
          continue;
        }
      }
      out += c + next;
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      out += c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      // a `]` right after `[` or `[^` is a literal in both syntaxes
      if (source[i + 1] === "^") out += source[++i];
      if (source[i + 1] === "]") out += source[++i];
      continue;
    }
    if (c === "(" && source[i + 1] === "?") {
      const rest = source.slice(i + 2, i + 4);
      if (rest.startsWith("=") || rest.startsWith("!") || rest === "<=" || rest === "<!") {
        return {
          unsupported: `lookaround (?${rest.startsWith("<") ? rest : rest[0]} at ${i} (the linear-time matcher has none)`,
        };
      }
      if (rest.startsWith("<")) {
        out += "(?P<";
        i += 2;
        continue;
      }
    }
    out += c;
  }
  return out;
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
