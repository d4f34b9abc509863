import { type ImageInfo, probeImage } from "@kensa/vision";
import sharp from "sharp";
import { refusal } from "./limit-refusals.js";
import { Semaphore } from "./semaphore.js";

export interface ImageLimits {
  /** width × height an uploaded image may have (limits.imagePixels) */
  pixels: number;
  /** images decoded at once (limits.imageDecodes) */
  decodes: number;
}

/** the config defaults, until a hub configures its own */
let limits: ImageLimits = { pixels: 8192 * 8192, decodes: 2 };
let gate = new Semaphore(limits.decodes);
let active = 0;
let peak = 0;
let peakWaiting = 0;

/**
 * Sets the pixel budget and the number of concurrent decodes. Decoding memory belongs to the
 * process, so there is one gate per process: the hub configures it from `limits` when built.
 */
export function configureImageLimits(next: ImageLimits): void {
  if (next.decodes !== limits.decodes) gate = new Semaphore(next.decodes);
  limits = { ...next };
  peak = active;
  peakWaiting = 0;
}

/** the budget in force */
export function imageLimits(): Readonly<ImageLimits> {
  return limits;
}

/** decodes running now and waiting now, and the most of each at once since the gate was configured */
export function imageDecodeStats(): { active: number; peak: number; waiting: number; peakWaiting: number } {
  return { active, peak, waiting: gate.waiting, peakWaiting };
}

/**
 * Refuses an image whose header announces more pixels than the budget, before any pixel is
 * decoded (sharp's metadata reads the header only: a 746 KB PNG can announce 16000 × 16000,
 * ≈ 768 MB once decoded). A body whose header cannot be read passes: the decoder reports it.
 * Throws KENSA_ERR_IMAGE_TOO_LARGE. `pixels` is the budget in force unless given (a `kensa
 * worker` applies the hub's limits.imagePixels it was handed with a job).
 */
export async function checkImageHeader(bytes: Uint8Array, pixels = limits.pixels): Promise<void> {
  let width = 0;
  let height = 0;
  try {
    const m = await sharp(bytes).metadata();
    width = m.width ?? 0;
    height = m.height ?? 0;
    // an animated or multi-page image decodes every page
    height *= Math.max(1, m.pages ?? 1);
  } catch {
    return;
  }
  if (width * height > pixels) {
    throw refusal(
      "image_pixels",
      "KENSA_ERR_IMAGE_TOO_LARGE",
      `the image is ${width} × ${height} px (${width * height} px); at most ${pixels} px are decoded (limits.imagePixels)`,
      { width, height, pixels: width * height, limit: pixels },
    );
  }
}

/**
 * Checks the header against the budget, then runs `decode` once a decoding slot is free,
 * handing it the pixel limit to give sharp (`limitInputPixels`) as a second guard.
 */
export async function decodeImage<T>(
  bytes: Uint8Array,
  decode: (limitInputPixels: number) => Promise<T>,
  pixels = limits.pixels,
): Promise<T> {
  await checkImageHeader(bytes, pixels);
  const turn = gate.run(async () => {
    active++;
    peak = Math.max(peak, active);
    try {
      return await decode(pixels);
    } finally {
      active--;
    }
  });
  peakWaiting = Math.max(peakWaiting, gate.waiting);
  return turn;
}

/** probeImage (a full decode that proves the image usable) within the budget (or `pixels`) and the gate. */
export function probeImageWithin(bytes: Uint8Array, pixels = limits.pixels): Promise<ImageInfo> {
  return decodeImage(bytes, (limitInputPixels) => probeImage(bytes, { limitInputPixels }), pixels);
}
