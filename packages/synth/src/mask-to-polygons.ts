/**
 * Outlines of a mask along pixel edges, as COCO polygons: flat [x0, y0, x1, y1, …] lists whose
 * vertices are pixel corners, pixel (x, y) being the square [x, x+1] × [y, y+1]. One polygon per
 * 4-connected component, traced clockwise on screen, collinear vertices dropped, so each
 * polygon encloses exactly its component's pixels. Holes cannot be said in COCO's polygon form
 * (a reader unions the polygons), so they are filled.
 *
 * `pixels` are row-major indices (y * width + x) into a frame `width` wide.
 */
export function maskToPolygons(pixels: ArrayLike<number>, width: number): number[][] {
  if (pixels.length === 0) return [];
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = -1;
  let y1 = -1;
  for (let k = 0; k < pixels.length; k++) {
    const i = pixels[k]!;
    const x = i % width;
    const y = (i - x) / width;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  // a local grid with a one-pixel empty border, so every neighbour lookup is in range
  const gw = x1 - x0 + 3;
  const gh = y1 - y0 + 3;
  const grid = new Uint8Array(gw * gh);
  for (let k = 0; k < pixels.length; k++) {
    const i = pixels[k]!;
    const x = i % width;
    const y = (i - x) / width;
    grid[(y - y0 + 1) * gw + (x - x0 + 1)] = 1;
  }
  // directed boundary edges, clockwise around each pixel: bit d of out[v] is an edge leaving
  // vertex v in direction d (0 right, 1 down, 2 left, 3 up); vertices are (gw+1) per row
  const vw = gw + 1;
  const out = new Uint8Array(vw * (gh + 1));
  for (let y = 1; y < gh - 1; y++) {
    for (let x = 1; x < gw - 1; x++) {
      const i = y * gw + x;
      if (!grid[i]) continue;
      if (!grid[i - gw]) out[y * vw + x]! |= 1;
      if (!grid[i + 1]) out[y * vw + x + 1]! |= 2;
      if (!grid[i + gw]) out[(y + 1) * vw + x + 1]! |= 4;
      if (!grid[i - 1]) out[(y + 1) * vw + x]! |= 8;
    }
  }
  const step = [1, vw, -1, -vw];
  const polygons: number[][] = [];
  for (let start = 0; start < out.length; start++) {
    while (out[start]) {
      const d0 = lowestBit(out[start]!);
      // start is the loop's first vertex in raster order, its top-left extreme: a corner
      const loop: number[] = [start];
      let v = start;
      let d = d0;
      for (;;) {
        out[v]! &= ~(1 << d);
        const next = v + step[d]!;
        // at a vertex where two boundaries meet diagonally, turn right first: that keeps to the
        // pixel just passed, so diagonal neighbours are separate (4-connected) components
        let nd = -1;
        for (const turn of [1, 0, 3]) {
          const c = (d + turn) & 3;
          if (next === start && c === d0) break;
          if (out[next]! & (1 << c)) {
            nd = c;
            break;
          }
        }
        if (nd < 0) break;
        // keep only corners: vertices where the direction changes
        if (nd !== d) loop.push(next);
        v = next;
        d = nd;
      }
      const poly: number[] = [];
      let twiceArea = 0;
      for (let k = 0; k < loop.length; k++) {
        const a = loop[k]!;
        const b = loop[(k + 1) % loop.length]!;
        const ax = a % vw;
        const ay = (a - ax) / vw;
        const bx = b % vw;
        const by = (b - bx) / vw;
        twiceArea += ax * by - bx * ay;
        poly.push(ax - 1 + x0, ay - 1 + y0);
      }
      // clockwise on screen (y down) is a positive area: an outline; negative is a hole's
      if (twiceArea > 0) polygons.push(poly);
    }
  }
  return polygons;
}

function lowestBit(bits: number): number {
  return bits & 1 ? 0 : bits & 2 ? 1 : bits & 4 ? 2 : 3;
}

/** Twice the signed area of a flat polygon (positive when clockwise on screen). */
export function polygonArea(poly: readonly number[]): number {
  let a = 0;
  for (let k = 0; k < poly.length; k += 2) {
    const j = (k + 2) % poly.length;
    a += poly[k]! * poly[j + 1]! - poly[j]! * poly[k + 1]!;
  }
  return a / 2;
}
