import { type ErrorCode, Event } from "@kensa/contracts";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import type { LimitsConfig } from "../config/limits-config.js";
import { countRefusal } from "./limit-refusals.js";

/** bytes of a refused payload kept in `rejected_events`, with a note of its original size */
export const KEPT_PAYLOAD_BYTES = 4096;

export type EventBudgets = Pick<LimitsConfig, "eventBytes" | "metaBytes">;

export interface EventRefusal {
  code: ErrorCode;
  reason: string;
  /** for a payload too large to parse: the `seq` and `id` found at its start, so it can still be confirmed as rejected */
  head?: { seq?: number; id?: string };
}

const checker = TypeCompiler.Compile(Event);
const SIZE_ERRORS = new Set<ValueErrorType>([
  ValueErrorType.StringMaxLength,
  ValueErrorType.ArrayMaxItems,
  ValueErrorType.ObjectMaxProperties,
]);

/**
 * The byte budgets of an event (`limits.eventBytes`, `limits.metaBytes`) and the field bounds
 * its schema declares (`EVENT_FIELD_LIMITS`): an event over any is refused with
 * KENSA_ERR_EVENT_TOO_LARGE, and a payload too large to parse is never turned into a string
 * whole.
 */
export class EventLimiter {
  readonly #b: EventBudgets;

  constructor(budgets: EventBudgets = { eventBytes: 1024 * 1024, metaBytes: 16 * 1024 }) {
    this.#b = budgets;
  }

  /**
   * The payload as text, or, over `eventBytes`, its first KEPT_PAYLOAD_BYTES with a note of its
   * size and the refusal (with the seq and id its start names).
   */
  screen(payload: Uint8Array): { text: string; refusal: EventRefusal | null } {
    const bytes = payload.byteLength;
    const buf = Buffer.from(payload.buffer, payload.byteOffset, bytes);
    if (bytes <= this.#b.eventBytes) return { text: buf.toString("utf8"), refusal: null };
    countRefusal("event_bytes");
    const head = buf.subarray(0, KEPT_PAYLOAD_BYTES).toString("utf8");
    return {
      text: `${head}…[truncated: ${bytes} bytes]`,
      refusal: {
        code: "KENSA_ERR_EVENT_TOO_LARGE",
        reason: `the event is ${bytes} bytes; at most ${this.#b.eventBytes} are accepted (limits.eventBytes)`,
        head: scanHead(head),
      },
    };
  }

  /** The refusal of a parsed event over `metaBytes` or over a field bound of its schema, else null. */
  check(body: unknown): EventRefusal | null {
    const meta = (body as { frame?: { meta?: unknown } } | null)?.frame?.meta;
    if (meta && typeof meta === "object") {
      const bytes = Buffer.byteLength(JSON.stringify(meta));
      if (bytes > this.#b.metaBytes) {
        countRefusal("event_field");
        return {
          code: "KENSA_ERR_EVENT_TOO_LARGE",
          reason: `frame.meta is ${bytes} bytes of JSON; at most ${this.#b.metaBytes} are accepted (limits.metaBytes)`,
        };
      }
    }
    if (checker.Check(body)) return null;
    const over = firstSizeError(checker.Errors(body), 0);
    if (!over) return null;
    countRefusal("event_field");
    return { code: "KENSA_ERR_EVENT_TOO_LARGE", reason: `${over.path}: ${over.message}` };
  }
}

/** What rejected_events keeps of a payload: at most KEPT_PAYLOAD_BYTES, with its original size. */
export function keptPayload(text: string): string {
  if (text.length <= KEPT_PAYLOAD_BYTES / 4) return text;
  const bytes = Buffer.byteLength(text);
  // a payload `screen` cut already carries its note (under 64 bytes)
  if (bytes <= KEPT_PAYLOAD_BYTES + 64) return text;
  const head = Buffer.from(text.slice(0, KEPT_PAYLOAD_BYTES)).subarray(0, KEPT_PAYLOAD_BYTES).toString("utf8");
  return `${head}…[truncated: ${bytes} bytes]`;
}

/** a size error anywhere in the errors, union members included (at most 200 looked at) */
function firstSizeError(errors: Iterable<ValueError>, seen: number): ValueError | null {
  let n = seen;
  for (const e of errors) {
    if (++n > 200) return null;
    if (SIZE_ERRORS.has(e.type)) return e;
    for (const sub of e.errors ?? []) {
      const found = firstSizeError(sub, n);
      if (found) return found;
    }
  }
  return null;
}

/**
 * `seq` and `id` from the start of an event's JSON (agents write them first). A top-level key
 * is the first occurrence: `frame.meta` and the rest come after.
 */
function scanHead(head: string): { seq?: number; id?: string } {
  const out: { seq?: number; id?: string } = {};
  const seq = /"seq"\s*:\s*(\d{1,15})[,}\s]/.exec(head);
  if (seq) out.seq = Number(seq[1]);
  const id = /"id"\s*:\s*"([A-Za-z0-9_.:-]{8,64})"/.exec(head);
  if (id) out.id = id[1];
  return out;
}

/** The seq an event names (a rejection is confirmed to its device by it), or null. */
export function seqOf(body: unknown): number | null {
  if (typeof body !== "object" || body === null) return null;
  const seq = (body as { seq?: unknown }).seq;
  return Number.isSafeInteger(seq) && (seq as number) >= 0 ? (seq as number) : null;
}
