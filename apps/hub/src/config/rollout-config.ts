import { type Static, Type } from "@sinclair/typebox";

/**
 * `rollout`: how the start of a deployment's downloads is spread. Each publish of desired
 * state to n devices tells them to start within n ÷ `startsPerSecond` seconds (at most
 * `maxSpreadSeconds`); every device waits a random time below that before it downloads, so a
 * rollout to a thousand devices does not open a thousand downloads in the same instant.
 */
export const RolloutConfigSchema = Type.Object(
  {
    /** downloads the hub expects to start per second of a rollout (sets the spread window) */
    startsPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000, default: 25 }),
    /** seconds the spread window lasts at most, however many devices (0: no spreading) */
    maxSpreadSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 120 }),
    /** seconds between two looks at the running staged rollouts' gates (docs/rollouts.md) */
    tickSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 15 }),
  },
  { additionalProperties: false, default: {} },
);

export type RolloutConfig = Static<typeof RolloutConfigSchema>;

/** ms a publish to `devices` devices spreads their downloads over. */
export function spreadMsFor(devices: number, config: RolloutConfig): number {
  return Math.round(Math.min(config.maxSpreadSeconds, devices / config.startsPerSecond) * 1000);
}
