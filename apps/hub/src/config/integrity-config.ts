import { type Static, Type } from "@sinclair/typebox";

/**
 * `integrity`: how the hub keeps its blobs honest — the background scrub that re-hashes every
 * blob at a bounded rate, and the bounds on media that arrives before its event.
 */
export const IntegrityConfigSchema = Type.Object(
  {
    /** bytes/s the scrub reads at most (0 turns the scrub off) */
    scrubBytesPerSecond: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 8 * 1024 * 1024 }),
    /** hours between the end of one scrub pass and the start of the next */
    scrubIntervalHours: Type.Number({ exclusiveMinimum: 0, maximum: 8760, default: 24 }),
    /** uploads of one device that may wait for events the hub has not received yet */
    earlyMediaPerDevice: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1_000 }),
    /** hours an early upload waits for its event before the sweep may remove it as an orphan */
    earlyMediaGraceHours: Type.Number({ exclusiveMinimum: 0, maximum: 87_600, default: 72 }),
    /** minutes between sweeps of orphaned early media */
    sweepIntervalMinutes: Type.Number({ exclusiveMinimum: 0, maximum: 10_080, default: 10 }),
  },
  { additionalProperties: false, default: {} },
);

export type IntegrityConfig = Static<typeof IntegrityConfigSchema>;
