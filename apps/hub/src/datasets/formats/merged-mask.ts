import type { LabelObject } from "@kensa/contracts";
import { decodeMask, encodeMask, unionMasks } from "../masks.js";

/**
 * The bytes of one mask PNG covering the given objects' masks: the stored blob itself when
 * there is one (so export → import is byte-exact), else their union.
 */
export async function mergedMask(
  objects: LabelObject[],
  readBlob: (sha256: string) => Promise<Uint8Array>,
): Promise<Uint8Array | null> {
  const shas = [...new Set(objects.map((o) => o.mask).filter((m): m is string => !!m))];
  if (shas.length === 0) return null;
  if (shas.length === 1) return readBlob(shas[0]!);
  const masks = await Promise.all(shas.map(async (s) => decodeMask(await readBlob(s))));
  const union = unionMasks(masks);
  return union ? encodeMask(union) : null;
}
