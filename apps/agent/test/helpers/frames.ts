import sharp from "sharp";

/** `n` distinct JPEGs (a hue per frame), so a reader's output can be matched byte for byte. */
export async function renderJpegs(n: number, width = 64, height = 48): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const hue = Math.round((i * 360) / n);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="hsl(${hue},80%,50%)"/><rect x="${i % width}" y="4" width="8" height="8" fill="#fff"/></svg>`;
    out.push(await sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer());
  }
  return out;
}
