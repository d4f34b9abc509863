import type { Rgb } from "./rgb.js";

/** A copper pad, in frame pixels: a rectangle (half sizes hw, hh) or a disc (radius hw). */
export interface PcbPad {
  x: number;
  y: number;
  hw: number;
  hh: number;
  round: boolean;
  /** drill radius in px, 0 for a surface-mount pad */
  hole: number;
  /** pads of one footprint row share a group (≥ 1; trace-end vias -1), listed in row order */
  group: number;
}

/** A copper trace: a polyline of constant width. */
export interface PcbTrace {
  /** x0, y0, x1, y1, … in frame pixels */
  points: number[];
  /** half width, px */
  hw: number;
}

export interface PcbLayout {
  kind: "pcb";
  pads: PcbPad[];
  traces: PcbTrace[];
  substrate: Rgb;
  solder: Rgb;
}

/** A square-tiled floor or wall: grout centrelines at x = ox + a·pitch and y = oy + b·pitch. */
export interface TileLayout {
  kind: "tiles";
  pitch: number;
  /** grout width, px */
  grout: number;
  ox: number;
  oy: number;
  glaze: Rgb;
  groutColour: Rgb;
  /** the fired clay under the glaze, seen where a piece chipped off */
  bisque: Rgb;
}

/** What a patterned surface drew, for defects that remove or add a feature. */
export type SurfaceLayout = PcbLayout | TileLayout;
