/**
 * What the synthetic camera films. The plain surfaces are grey parts with a faint texture (the
 * blemish model in @kensa/vision is calibrated on them); the patterned ones carry colour and
 * strong, regular structure that a detector has to learn rather than ignore.
 */
export type SurfaceKind = "brushed-metal" | "cast" | "woven-fabric" | "ceramic-tile" | "pcb";

/** The plain grey surfaces: faint texture, no colour, no regular features. */
export const plainSurfaceKinds: readonly SurfaceKind[] = ["brushed-metal", "cast"];

/** Every surface the generator draws. */
export const allSurfaceKinds: readonly SurfaceKind[] = ["brushed-metal", "cast", "woven-fabric", "ceramic-tile", "pcb"];

/**
 * The plain surfaces, as before the patterned ones existed. The blemish-model accuracy test in
 * @kensa/vision iterates this list and its detector is centre-surround only, so grout lines and
 * copper traces would read as defects there; once that test iterates `plainSurfaceKinds`, this
 * can become `allSurfaceKinds`.
 */
export const surfaceKinds: readonly SurfaceKind[] = plainSurfaceKinds;
