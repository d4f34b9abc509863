import { type SnapshotParams, type SplitName, sha256Hex } from "@kensa/contracts";

/**
 * The split of a group: sha256(seed, key) mapped to [0, 1) and cut by the ratios. Depends on
 * nothing else, so a group never straddles splits, a sample keeps its split across snapshots
 * while its group does, and adding samples never moves others.
 */
export function splitOf(groupKey: string, params: Pick<SnapshotParams, "seed" | "ratios">): SplitName {
  const u = Number.parseInt(sha256Hex(`${params.seed}\u0000${groupKey}`).slice(0, 13), 16) / 2 ** 52;
  const { train, val, test } = params.ratios;
  const sum = train + val + test;
  if (u < train / sum) return "train";
  if (u < (train + val) / sum) return "val";
  return "test";
}

/**
 * A sample's group: its explicit key, else its device and capture-time bucket (frames a
 * camera took close together are near-duplicates), else its image.
 */
export function effectiveGroupKey(
  s: { group_key: string | null; device_id: string | null; captured_at: string | null; image_sha256: string | null },
  bucketSec: number,
): string {
  if (s.group_key) return s.group_key;
  if (s.device_id && s.captured_at) {
    const t = Math.floor(Date.parse(s.captured_at) / 1000 / bucketSec) * bucketSec;
    return `device:${s.device_id}@${new Date(t * 1000).toISOString()}`;
  }
  return `image:${s.image_sha256}`;
}
