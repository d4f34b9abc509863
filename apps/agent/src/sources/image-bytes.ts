/** The still-image formats frames may carry. */
export type ImageKind = "jpeg" | "png";

const pngSignature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
// the 12 bytes every PNG ends with: IEND chunk length 0, type, CRC
const pngTrailer = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

/** The format named by the leading magic bytes, or undefined for anything else. */
export function imageKind(bytes: Uint8Array): ImageKind | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes.length >= 8 && pngSignature.every((b, i) => bytes[i] === b)) return "png";
  return undefined;
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

/** The MIME type of a known image kind. */
export function imageMime(kind: ImageKind): string {
  return kind === "png" ? "image/png" : "image/jpeg";
}
