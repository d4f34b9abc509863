import type { ZonePoint } from "@kensa/contracts";

/** [x, y, width, height], in whatever unit the caller uses consistently */
export type Rect = readonly [number, number, number, number];

/** Even-odd ray casting; a point on an edge may fall either way, which no rule depends on. */
export function pointInPolygon(x: number, y: number, polygon: readonly ZonePoint[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i] as ZonePoint;
    const [xj, yj] = polygon[j] as ZonePoint;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Shoelace area (absolute, so either winding works). */
export function polygonArea(polygon: readonly ZonePoint[]): number {
  let twice = 0;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i] as ZonePoint;
    const [xj, yj] = polygon[j] as ZonePoint;
    twice += xj * yi - xi * yj;
  }
  return Math.abs(twice) / 2;
}

/**
 * The part of `polygon` inside the axis-aligned `rect` (Sutherland–Hodgman). The clip window
 * is convex, so the result's area is exact even for a concave zone polygon.
 */
export function clipToRect(polygon: readonly ZonePoint[], rect: Rect): ZonePoint[] {
  const [x0, y0, w, h] = rect;
  const x1 = x0 + w;
  const y1 = y0 + h;
  const edges: Array<{ inside: (p: ZonePoint) => boolean; cross: (a: ZonePoint, b: ZonePoint) => ZonePoint }> = [
    { inside: (p) => p[0] >= x0, cross: (a, b) => atX(a, b, x0) },
    { inside: (p) => p[0] <= x1, cross: (a, b) => atX(a, b, x1) },
    { inside: (p) => p[1] >= y0, cross: (a, b) => atY(a, b, y0) },
    { inside: (p) => p[1] <= y1, cross: (a, b) => atY(a, b, y1) },
  ];
  let out: ZonePoint[] = [...polygon];
  for (const edge of edges) {
    const input = out;
    out = [];
    for (let i = 0; i < input.length; i++) {
      const cur = input[i] as ZonePoint;
      const prev = input[(i + input.length - 1) % input.length] as ZonePoint;
      if (edge.inside(cur)) {
        if (!edge.inside(prev)) out.push(edge.cross(prev, cur));
        out.push(cur);
      } else if (edge.inside(prev)) {
        out.push(edge.cross(prev, cur));
      }
    }
    if (out.length === 0) break;
  }
  return out;
}

function atX(a: ZonePoint, b: ZonePoint, x: number): ZonePoint {
  const t = (x - a[0]) / (b[0] - a[0]);
  return [x, a[1] + t * (b[1] - a[1])];
}

function atY(a: ZonePoint, b: ZonePoint, y: number): ZonePoint {
  const t = (y - a[1]) / (b[1] - a[1]);
  return [a[0] + t * (b[0] - a[0]), y];
}

/** Share (0..1) of `rect`'s area inside `polygon`; a degenerate rect counts by its centre. */
export function rectInsideShare(rect: Rect, polygon: readonly ZonePoint[]): number {
  const area = rect[2] * rect[3];
  if (area <= 0) return pointInPolygon(rect[0] + rect[2] / 2, rect[1] + rect[3] / 2, polygon) ? 1 : 0;
  return Math.min(1, polygonArea(clipToRect(polygon, rect)) / area);
}

/** Share (0..1) of `inner`'s area that lies inside `outer`; a degenerate `inner` counts by its centre. */
export function rectOverlapShare(inner: Rect, outer: Rect): number {
  const area = inner[2] * inner[3];
  const ix = Math.max(0, Math.min(inner[0] + inner[2], outer[0] + outer[2]) - Math.max(inner[0], outer[0]));
  const iy = Math.max(0, Math.min(inner[1] + inner[3], outer[1] + outer[3]) - Math.max(inner[1], outer[1]));
  if (area <= 0) {
    const cx = inner[0] + inner[2] / 2;
    const cy = inner[1] + inner[3] / 2;
    return cx >= outer[0] && cx <= outer[0] + outer[2] && cy >= outer[1] && cy <= outer[1] + outer[3] ? 1 : 0;
  }
  // Per-axis ratios, each clamped: the product of two tiny sides can be a subnormal whose
  // rounding would push a plain intersection/area quotient past 1.
  return Math.min(1, ix / inner[2]) * Math.min(1, iy / inner[3]);
}
