/**
 * What the bytes of a frame are, read from their headers without decoding: the one place hub
 * and agent tell a JPEG from a PNG, a complete file from a half-written one, and a renamed or
 * truncated upload from a real image. `probeImage` decodes when the pixels must be proven.
 */

/** The still-image formats frames may carry. */
export type ImageKind = "jpeg" | "png";
export type ImageMime = "image/jpeg" | "image/png";

const pngSignature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
// the 12 bytes every PNG ends with: IEND chunk length 0, type, CRC
const pngTrailer = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

/** The format named by the leading magic bytes, or undefined for anything else. */
export function imageKind(bytes: Uint8Array): ImageKind | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes.length >= 8 && pngSignature.every((b, i) => bytes[i] === b)) return "png";
  return undefined;
}

/** The MIME type of a known image kind. */
export function imageMime(kind: ImageKind): ImageMime {
  return kind === "png" ? "image/png" : "image/jpeg";
}

/**
 * Whether a JPEG or PNG is complete: a JPEG ends with EOI (FF D9, encoders may pad a few zero
 * bytes after it), a PNG with its IEND chunk. A file still being written fails this, which is
 * how folder-watch and push tell a half-written image from a finished one without decoding.
 */
export function isCompleteImage(bytes: Uint8Array): boolean {
  const kind = imageKind(bytes);
  if (kind === "png") {
    if (bytes.length < pngSignature.length + pngTrailer.length) return false;
    const at = bytes.length - pngTrailer.length;
    return pngTrailer.every((b, i) => bytes[at + i] === b);
  }
  if (kind === "jpeg") {
    let end = bytes.length;
    for (let pad = 0; pad < 16 && end > 0 && bytes[end - 1] === 0x00; pad++) end--;
    return end >= 4 && bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9;
  }
  return false;
}

/**
 * The image type an upload really is, or null. Checks structure beyond the magic number (a JPEG
 * end marker near the end, a PNG IHDR with a non-zero size) so a truncated or renamed file is
 * refused without decoding it.
 */
export function sniffImage(b: Uint8Array): ImageMime | null {
  const kind = imageKind(b);
  if (kind === "jpeg") {
    if (b.length < 4) return null;
    // EOI (FF D9) may be followed by padding some encoders append
    const tail = b.subarray(Math.max(0, b.length - 64));
    for (let i = tail.length - 2; i >= 0; i--) if (tail[i] === 0xff && tail[i + 1] === 0xd9) return "image/jpeg";
    return null;
  }
  if (kind === "png" && b.length >= 33) {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const ihdr = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!);
    if (ihdr !== "IHDR" || dv.getUint32(8) !== 13) return null;
    if (dv.getUint32(16) === 0 || dv.getUint32(20) === 0) return null;
    return "image/png";
  }
  return null;
}
