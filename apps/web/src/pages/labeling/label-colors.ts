/**
 * One colour per class, by its index in the project's labels, so a class looks the same on
 * every page. Picked to stay apart for the common colour-vision deficiencies (Okabe–Ito).
 */
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];

export function labelColor(labels: readonly string[], label: string): string {
  const i = labels.indexOf(label);
  return PALETTE[(i < 0 ? labels.length : i) % PALETTE.length]!;
}

/** "#RRGGBB" → [r, g, b] */
export function rgbOf(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
