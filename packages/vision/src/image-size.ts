/**
 * Width and height from a JPEG's frame header or a PNG's IHDR, read in JS without decoding;
 * null for other formats or a header that does not parse (the caller asks sharp instead).
 * Preprocessing needs the size to plan the resize before it hands the whole decode to sharp
 * in one call: a second asynchronous step would wait for the JS thread, which ONNX Runtime
 * blocks while it infers the previous frame, and decode would no longer overlap inference.
 * Sizes are as stored (EXIF orientation is not applied, as in preprocess).
 */
export function imageSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length >= 24 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    // PNG: signature (8), IHDR length (4) and type (4), then width and height big-endian
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return positive(view.getUint32(16), view.getUint32(20));
  }
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1]!;
    // fill bytes before a marker
    if (marker === 0xff) {
      i++;
      continue;
    }
    // standalone markers carry no length
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    // SOF0..SOF15 hold the frame size, except DHT (C4), JPG (C8) and DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return positive((bytes[i + 7]! << 8) | bytes[i + 8]!, (bytes[i + 5]! << 8) | bytes[i + 6]!);
    }
    // the frame header precedes the scan: past SOS there is none to find
    if (marker === 0xda || length < 2) return null;
    i += 2 + length;
  }
  return null;
}

function positive(width: number, height: number): { width: number; height: number } | null {
  return width > 0 && height > 0 ? { width, height } : null;
}
