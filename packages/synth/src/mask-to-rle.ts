/** COCO's uncompressed run-length encoding of a binary mask, as pycocotools reads it. */
export interface CocoRle {
  /** [height, width] */
  size: [number, number];
  /** run lengths in column-major order, starting with a (possibly empty) run of background */
  counts: number[];
}

/** The mask made of row-major pixel indices `pixels` in a width x height frame, as COCO RLE. */
export function maskToRle(pixels: ArrayLike<number>, width: number, height: number): CocoRle {
  const mask = new Uint8Array(width * height);
  for (let k = 0; k < pixels.length; k++) mask[pixels[k]!] = 1;
  const counts: number[] = [];
  let value = 0;
  let run = 0;
  // column-major (Fortran order), as COCO's masks are
  for (let x = 0; x < width; x++) {
    for (let i = x; i < mask.length; i += width) {
      if (mask[i] !== value) {
        counts.push(run);
        value = mask[i]!;
        run = 0;
      }
      run++;
    }
  }
  counts.push(run);
  return { size: [height, width], counts };
}
