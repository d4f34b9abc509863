import type { Locator } from "playwright-core";
import { expect } from "vitest";

/** A box on the page, px. */
export interface ScreenBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Checks that a shape the console drew over a frame covers `box` ([x, y, w, h], frame px) of
 * the image shown at `shown` and scaled by `scale`. The drawn shape includes its 2 px stroke
 * (1 px each side), so centres are compared within 1.5 px and sizes within `sizeTolerance`.
 */
export function expectDrawnOver(
  drawn: ScreenBox,
  shown: ScreenBox,
  box: readonly [number, number, number, number],
  scale: number,
  what: string,
  sizeTolerance = 1.5,
): void {
  const [x, y, w, h] = box;
  expect(Math.abs(drawn.x + drawn.width / 2 - (shown.x + (x + w / 2) * scale)), `${what} centre x`).toBeLessThan(1.5);
  expect(Math.abs(drawn.y + drawn.height / 2 - (shown.y + (y + h / 2) * scale)), `${what} centre y`).toBeLessThan(1.5);
  expect(Math.abs(drawn.width - 2 - w * scale), `${what} width`).toBeLessThan(sizeTolerance);
  expect(Math.abs(drawn.height - 2 - h * scale), `${what} height`).toBeLessThan(sizeTolerance);
}

/** The duration (s) of a <video> once the browser has read its metadata; rejects when it cannot play it. */
export function videoDuration(video: Locator): Promise<number> {
  return video.evaluate(
    (v: HTMLVideoElement) =>
      new Promise<number>((resolve, reject) => {
        if (v.readyState >= 1) return resolve(v.duration);
        v.addEventListener("loadedmetadata", () => resolve(v.duration), { once: true });
        v.addEventListener("error", () => reject(new Error(`video error ${v.error?.code}`)), { once: true });
      }),
  );
}
