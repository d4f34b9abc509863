import { KensaError, type LabelContent, type LatencyStats } from "@kensa/contracts";
import { percentile } from "@kensa/vision";
import { decodeMask, maskBox } from "../../datasets/masks.js";
import type { BlobSource, EvalItem } from "./task-evaluator.js";

export async function imageBytes(blobs: BlobSource, item: EvalItem): Promise<Uint8Array> {
  const bytes = await blobs.get(item.image.sha256);
  if (!bytes) {
    throw new KensaError(
      "KENSA_ERR_EVALUATION_FAILED",
      `image ${item.image.sha256} of sample ${item.sampleId} is missing`,
    );
  }
  return bytes;
}

export function latencyStats(ms: readonly number[]): LatencyStats {
  return {
    p50: percentile([...ms], 50),
    p95: percentile([...ms], 95),
    mean: ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length : 0,
    samples: ms.length,
  };
}

/**
 * The one true class of a classification label, by the rule training uses: exactly one
 * class; a label with no class and no object is the first OK label (a false alarm in a
 * project without OK class gives none). Null when the image cannot be scored.
 */
export function trueClass(
  content: LabelContent,
  labels: readonly string[],
  okLabels: readonly string[],
): number | null {
  const known = content.classes.filter((c) => labels.includes(c));
  const classes = known.length === 0 && okLabels[0] && content.objects.length === 0 ? [okLabels[0]] : known;
  if (classes.length !== 1) return null;
  const i = labels.indexOf(classes[0]!);
  return i >= 0 ? i : null;
}

/** Boxes [x, y, w, h] of a label's non-OK objects (a mask-only object gets its mask's box). */
export async function truthBoxes(
  blobs: BlobSource,
  content: LabelContent,
  labels: readonly string[],
  okLabels: readonly string[],
): Promise<Array<{ label: string; box: [number, number, number, number] }>> {
  const out: Array<{ label: string; box: [number, number, number, number] }> = [];
  for (const o of content.objects) {
    if (!labels.includes(o.label) || okLabels.includes(o.label)) continue;
    if (o.box) out.push({ label: o.label, box: [o.box.x, o.box.y, o.box.w, o.box.h] });
    else if (o.mask) {
      const bytes = await blobs.get(o.mask);
      const b = bytes ? maskBox(await decodeMask(bytes)) : null;
      if (b) out.push({ label: o.label, box: [b.x, b.y, b.w, b.h] });
    }
  }
  return out;
}

/**
 * The truth as a class-index mask of the image's size: `background` everywhere, then each
 * non-OK object's mask (or box, for labels that have only boxes) painted with its label's
 * index, later objects over earlier ones — the same composition training uses.
 */
export async function truthMask(
  blobs: BlobSource,
  item: EvalItem,
  labels: readonly string[],
  okLabels: readonly string[],
  background: number,
): Promise<Uint8Array> {
  const { width, height } = item.image;
  const data = new Uint8Array(width * height).fill(background);
  for (const o of item.label.content.objects) {
    const k = labels.indexOf(o.label);
    if (k < 0 || okLabels.includes(o.label)) continue;
    if (o.mask) {
      const bytes = await blobs.get(o.mask);
      if (!bytes) throw new KensaError("KENSA_ERR_EVALUATION_FAILED", `mask ${o.mask} of ${item.sampleId} is missing`);
      const m = await decodeMask(bytes);
      if (m.width !== width || m.height !== height) continue;
      for (let i = 0; i < data.length; i++) if (m.data[i]) data[i] = k;
    } else if (o.box) {
      const x0 = Math.max(0, Math.floor(o.box.x));
      const x1 = Math.min(width, Math.ceil(o.box.x + o.box.w));
      for (let y = Math.max(0, Math.floor(o.box.y)); y < Math.min(height, Math.ceil(o.box.y + o.box.h)); y++) {
        data.fill(k, y * width + x0, y * width + x1);
      }
    }
  }
  return data;
}
