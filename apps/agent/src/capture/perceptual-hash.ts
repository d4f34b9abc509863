import sharp from "sharp";

/**
 * 64-bit difference hash (dHash): the image shrunk to a 9×8 greyscale thumbnail, one bit per
 * horizontally adjacent pair (left brighter than right). Robust to re-encoding, small noise
 * and brightness shifts, cheap (sharp shrinks JPEGs on load), and near-identical frames of a
 * still scene land within a few bits of each other.
 */
export async function differenceHash(image: Uint8Array): Promise<bigint> {
  const px = await sharp(image, { failOn: "none" })
    .greyscale()
    .resize(9, 8, { fit: "fill", kernel: "cubic" })
    .raw()
    .toBuffer();
  let hash = 0n;
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      hash <<= 1n;
      if ((px[y * 9 + x] as number) > (px[y * 9 + x + 1] as number)) hash |= 1n;
    }
  }
  return hash;
}

/** Bits that differ between two 64-bit hashes, 0..64. */
export function hammingDistance(a: bigint, b: bigint): number {
  let x = a ^ b;
  let n = 0;
  while (x > 0n) {
    x &= x - 1n;
    n++;
  }
  return n;
}
