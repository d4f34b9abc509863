import {
  type CreateRollout,
  type RolloutGates as Gates,
  RolloutGates,
  RolloutStrategy,
  type RolloutStrategy as Strategy,
} from "@kensa/contracts";
import { Value } from "@sinclair/typebox/value";

/** The strategy asked for, with every default filled in (stored so the rollout never changes under a new default). */
export function strategyOf(input: CreateRollout["strategy"]): Strategy {
  return Value.Default(RolloutStrategy, structuredClone(input ?? {})) as Strategy;
}

/** The gates asked for, with every default filled in. */
export function gatesOf(input: CreateRollout["gates"]): Gates {
  return Value.Default(RolloutGates, structuredClone(input ?? {})) as Gates;
}

/** seconds a wave may wait for its gates' evidence before the rollout pauses */
export function evidenceTimeoutSeconds(s: Strategy): number {
  return s.evidenceTimeoutSeconds ?? Math.max(4 * s.bakeSeconds, 900);
}

/**
 * Splits the target into waves: the canary (named devices, else `canaryPercent` of the target,
 * at least one), then waves `factor` times the size of the one before, until every device is
 * in one. Devices keep the target's order (sorted ids), so the same target plans the same waves.
 */
export function planWaves(deviceIds: readonly string[], s: Strategy): string[][] {
  const all = [...new Set(deviceIds)].sort();
  if (all.length === 0) return [];
  const named = s.canaryDeviceIds.filter((id) => all.includes(id));
  const canary = named.length > 0 ? named : all.slice(0, Math.max(1, Math.ceil((all.length * s.canaryPercent) / 100)));
  const waves: string[][] = [canary];
  const rest = all.filter((id) => !canary.includes(id));
  let size = canary.length;
  while (rest.length > 0) {
    size = Math.max(size + 1, Math.ceil(size * s.factor));
    waves.push(rest.splice(0, size));
  }
  return waves;
}
