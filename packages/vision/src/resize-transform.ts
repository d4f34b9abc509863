import type { Box, InputSpec, Preprocessing } from "@kensa/contracts";

/**
 * Where the original image lies in the model input, per axis: `input = original * scale + pad`
 * (px). Letterbox pads (pad > 0), center-crop cuts (pad < 0), stretch scales each axis alone.
 */
export interface ResizeTransform {
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
  /** the original image's size in px */
  width: number;
  height: number;
}

/** How to turn a width×height image into the model input: resize to resizeW×resizeH, then pad or crop. */
export interface ResizePlan {
  resizeWidth: number;
  resizeHeight: number;
  /** letterbox: px of grey added on each side; center-crop: px cut from the left and top */
  left: number;
  top: number;
  transform: ResizeTransform;
}

/**
 * The exact geometry of a resize, computed here rather than left to the image library, so
 * that boxes map back to the original frame to the pixel. Letterbox follows Ultralytics'
 * LetterBox: the scaled image rounded to whole px, centred, the odd px of padding at the end.
 */
export function planResize(
  width: number,
  height: number,
  input: Pick<InputSpec, "width" | "height">,
  mode: Preprocessing["resize"],
): ResizePlan {
  const W = input.width;
  const H = input.height;
  if (mode === "stretch") {
    return plan(W, H, 0, 0, { scaleX: W / width, scaleY: H / height, padX: 0, padY: 0, width, height });
  }
  const scale = mode === "letterbox" ? Math.min(W / width, H / height) : Math.max(W / width, H / height);
  // rounding may fall one px short of the side the scale was chosen for; the crop needs it whole
  const clampTo = (v: number, side: number) => (mode === "letterbox" ? Math.min(side, v) : Math.max(side, v));
  const rw = Math.max(1, clampTo(Math.round(width * scale), W));
  const rh = Math.max(1, clampTo(Math.round(height * scale), H));
  const left = Math.floor(Math.abs(W - rw) / 2);
  const top = Math.floor(Math.abs(H - rh) / 2);
  // a crop is a negative pad; `|| 0` keeps -0 out of the records
  const sign = mode === "letterbox" ? 1 : -1;
  return plan(rw, rh, left, top, {
    scaleX: rw / width,
    scaleY: rh / height,
    padX: sign * left || 0,
    padY: sign * top || 0,
    width,
    height,
  });
}

function plan(rw: number, rh: number, left: number, top: number, transform: ResizeTransform): ResizePlan {
  return { resizeWidth: rw, resizeHeight: rh, left, top, transform };
}

/**
 * A box given by corners in model-input px → [x, y, w, h] in original px, clipped to the
 * original image (a letterboxed detection may reach into the padding).
 */
export function toOriginalBox(x1: number, y1: number, x2: number, y2: number, t: ResizeTransform): Box {
  const ox1 = clamp((x1 - t.padX) / t.scaleX, 0, t.width);
  const oy1 = clamp((y1 - t.padY) / t.scaleY, 0, t.height);
  const ox2 = clamp((x2 - t.padX) / t.scaleX, 0, t.width);
  const oy2 = clamp((y2 - t.padY) / t.scaleY, 0, t.height);
  return [ox1, oy1, Math.max(0, ox2 - ox1), Math.max(0, oy2 - oy1)];
}

/** A point of the model input → original px (clamped to the frame), rounded to 0.1 px. */
export function toOriginalPoint(x: number, y: number, t: ResizeTransform): [number, number] {
  const r = (v: number) => Math.round(v * 10) / 10;
  return [r(clamp((x - t.padX) / t.scaleX, 0, t.width)), r(clamp((y - t.padY) / t.scaleY, 0, t.height))];
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
