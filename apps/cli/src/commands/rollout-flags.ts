import { GateName, KensaError, type RolloutStrategy } from "@kensa/contracts";
import { type Command, Option } from "commander";
import { intFlag, numberFlag } from "../cli-input.js";
import { secondsFlag } from "./rollout-format.js";

/** The wave flags `kensa rollout create` and `kensa site rollout` share. */
export interface WaveFlags {
  canary?: string;
  canaryPercent?: number;
  factor?: number;
  bake?: number;
  evidenceTimeout?: number;
  minFrames?: number;
  minVerdicts?: number;
  disableGate: string[];
  autoRollback: boolean;
}

export const GATES = GateName.anyOf.map((s) => String(s.const));

/** --canary-percent, --factor, --bake, --evidence-timeout, --min-frames */
export function waveFlags(cmd: Command): Command {
  return cmd
    .option(
      "--canary-percent <n>",
      "the first wave: this share of the target (default 10)",
      numberFlag("--canary-percent", { min: 0.1, max: 100 }),
    )
    .option(
      "--factor <x>",
      "each later wave is this many times the one before (default 2)",
      numberFlag("--factor", { min: 1, max: 100 }),
    )
    .option(
      "--bake <duration>",
      "how long a wave runs before its gates may pass it (default 1h)",
      secondsFlag("--bake", 0, 30 * 86_400),
    )
    .option(
      "--evidence-timeout <duration>",
      "pause when a wave still lacks the minimum evidence this long after it started (default 4 × bake, ≥ 15m)",
      secondsFlag("--evidence-timeout", 1, 60 * 86_400),
    )
    .option(
      "--min-frames <n>",
      "frames each group must have inferred before a rate gate may pass (default 200)",
      intFlag("--min-frames"),
    );
}

/** --disable-gate and --no-auto-rollback */
export function gateSwitchFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--disable-gate <name...>", "leave a gate out (repeatable; recorded with the rollout)")
        .choices(GATES)
        .default([]),
    )
    .option("--no-auto-rollback", "a breach only pauses: the wave's devices keep the new version");
}

/** the --canary list; KENSA_ERR_FLAG_INVALID when it is given with --canary-percent, or names nothing */
export function canaryList(o: WaveFlags): string[] | undefined {
  if (o.canary !== undefined && o.canaryPercent !== undefined) {
    throw new KensaError(
      "KENSA_ERR_FLAG_INVALID",
      "--canary names the canary devices, --canary-percent sizes it: give one",
    );
  }
  const canary = o.canary
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (canary && canary.length === 0) throw new KensaError("KENSA_ERR_FLAG_INVALID", "--canary names no device");
  return canary;
}

/** the strategy the wave flags give (keys left out take the hub's defaults) */
export function waveStrategy(
  o: WaveFlags,
  canaryDeviceIds: string[] | undefined,
): Partial<RolloutStrategy> | undefined {
  return defined({
    canaryDeviceIds,
    canaryPercent: o.canaryPercent,
    factor: o.factor,
    bakeSeconds: o.bake,
    evidenceTimeoutSeconds: o.evidenceTimeout,
  });
}

/** `o` without its undefined keys; undefined when none is left */
export function defined<T extends Record<string, unknown>>(o: T): Partial<T> | undefined {
  const kept = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  return Object.keys(kept).length ? kept : undefined;
}
