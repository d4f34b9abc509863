export type ImageType = "image/jpeg" | "image/png";

/**
 * The image type the bytes really are, or null. Checks structure beyond the magic number
 * (JPEG end marker, PNG IHDR with a non-zero size) so a truncated or renamed file is refused
 * without pulling an image codec into the hub.
 */
export function sniffImage(b: Uint8Array): ImageType | null {
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    // EOI (FF D9) may be followed by padding some encoders append
    const tail = b.subarray(Math.max(0, b.length - 64));
    for (let i = tail.length - 2; i >= 0; i--) if (tail[i] === 0xff && tail[i + 1] === 0xd9) return "image/jpeg";
    return null;
  }
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length >= 33 && sig.every((v, i) => b[i] === v)) {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const ihdr = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!);
    if (ihdr !== "IHDR" || dv.getUint32(8) !== 13) return null;
    if (dv.getUint32(16) === 0 || dv.getUint32(20) === 0) return null;
    return "image/png";
  }
  return null;
}
