/** An (r, g, b) reflectance triple, 0..1. */
export type Rgb = readonly [r: number, g: number, b: number];
