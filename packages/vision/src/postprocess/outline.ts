/**
 * The outer boundary of one 8-connected region of a class map, as a polygon on the pixel grid
 * (corner coordinates: pixel (x, y) spans x..x+1, y..y+1), clockwise on screen, corners only.
 * Follows the cracks between pixels with the region on the right, preferring left turns so that
 * pixels touching by a corner stay inside one outline (8-connectivity). Holes are not traced.
 * `start` must be the region's first pixel in raster order (its top edge is on the boundary).
 */
export function traceOutline(
  classes: Int32Array,
  width: number,
  height: number,
  cls: number,
  start: number,
): Array<[number, number]> {
  const inside = (x: number, y: number) =>
    x >= 0 && y >= 0 && x < width && y < height && classes[y * width + x] === cls;
  // directions R, D, L, U; a step in direction d from vertex (x, y) has the pixel at
  // (x + rx, y + ry) on its right and (x + lx, y + ly) on its left
  const dx = [1, 0, -1, 0];
  const dy = [0, 1, 0, -1];
  const right = [
    [0, 0],
    [-1, 0],
    [-1, -1],
    [0, -1],
  ] as const;
  const left = [
    [0, -1],
    [0, 0],
    [-1, 0],
    [-1, -1],
  ] as const;
  const boundary = (x: number, y: number, d: number) =>
    inside(x + right[d]![0], y + right[d]![1]) && !inside(x + left[d]![0], y + left[d]![1]);

  const x0 = start % width;
  const y0 = (start - x0) / width;
  const points: Array<[number, number]> = [[x0, y0]];
  let x = x0;
  let y = y0;
  let d = 0;
  const maxSteps = 4 * (width + 1) * (height + 1);
  for (let step = 0; step < maxSteps; step++) {
    x += dx[d]!;
    y += dy[d]!;
    // left turn first, then straight, right, and back (the tip of a one-pixel spike)
    let next = -1;
    for (const turn of [3, 0, 1, 2]) {
      const c = (d + turn) % 4;
      if (boundary(x, y, c)) {
        next = c;
        break;
      }
    }
    if (next < 0) break;
    if (x === x0 && y === y0 && next === 0) break;
    if (next !== d) points.push([x, y]);
    d = next;
  }
  return points;
}

/**
 * Douglas–Peucker on a closed polygon: drops vertices closer than `epsilon` to the line their
 * neighbours keep, lowers `epsilon` while fewer than three remain and raises it until at most
 * `maxPoints` do.
 */
export function simplifyClosed(
  points: Array<[number, number]>,
  epsilon: number,
  maxPoints: number,
): Array<[number, number]> {
  if (points.length <= 3) return points;
  // split the ring at its first point and the point farthest from it
  let far = 1;
  let best = -1;
  for (let i = 1; i < points.length; i++) {
    const dist = Math.hypot(points[i]![0] - points[0]![0], points[i]![1] - points[0]![1]);
    if (dist > best) {
      best = dist;
      far = i;
    }
  }
  const ringAt = (eps: number) => {
    const a = simplifyOpen(points.slice(0, far + 1), eps);
    const b = simplifyOpen([...points.slice(far), points[0]!], eps);
    return [...a, ...b.slice(1, -1)];
  };
  // a small region must stay a polygon: tighten until it keeps three vertices
  let eps = epsilon;
  let ring = ringAt(eps);
  while (ring.length < 3 && eps > 1e-3) {
    eps /= 2;
    ring = ringAt(eps);
  }
  // a long one must fit the cap: loosen, but never below three vertices
  while (ring.length > maxPoints) {
    eps = eps > 0 ? eps * 1.5 : 0.25;
    const looser = ringAt(eps);
    if (looser.length < 3) break;
    ring = looser;
  }
  return ring;
}

function simplifyOpen(points: Array<[number, number]>, epsilon: number): Array<[number, number]> {
  if (points.length <= 2) return points;
  const [ax, ay] = points[0]!;
  const [bx, by] = points.at(-1)!;
  const len = Math.hypot(bx - ax, by - ay);
  let index = 0;
  let max = -1;
  for (let i = 1; i < points.length - 1; i++) {
    const [px, py] = points[i]!;
    const dist =
      len === 0 ? Math.hypot(px - ax, py - ay) : Math.abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / len;
    if (dist > max) {
      max = dist;
      index = i;
    }
  }
  if (max <= epsilon) return [points[0]!, points.at(-1)!];
  const head = simplifyOpen(points.slice(0, index + 1), epsilon);
  return [...head.slice(0, -1), ...simplifyOpen(points.slice(index), epsilon)];
}
