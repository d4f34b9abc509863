import { type DefectType, defaultDefectsFor, defectTypesFor } from "./defect-type.js";
import { allSurfaceKinds, type SurfaceKind } from "./surface-kind.js";

export interface SynthOptions {
  seed: number;
  /** px, default 320 */
  width?: number;
  /** px, default 240 */
  height?: number;
  /** probability that a frame has at least one defect, 0..1, default 0.3 */
  defectRate?: number;
  /** default "brushed-metal" */
  surface?: SurfaceKind;
  /** JPEG quality 1..100, default 85 */
  jpegQuality?: number;
  /**
   * defect types to draw, each from `defectTypesFor(surface)`; default: all of those, except on
   * the plain surfaces, where it stays spot, scratch and stain so earlier frames keep their bytes
   */
  defects?: readonly DefectType[];
  /** defects in a defective frame: uniform in 1..maxDefects (1..16), default 1 */
  maxDefects?: number;
  /** also render the class mask (a PNG in `SynthFrame.mask`), default false */
  masks?: boolean;
  /** sensor noise, standard deviation in luminance (0..1 full scale), 0..0.2, default 0.012 */
  noise?: number;
  /** how much exposure and light falloff vary between frames: 0 = not at all, 1 = default, up to 10 */
  lightingJitter?: number;
  /** share of defective frames whose defects are faint (20–55 % of their usual contrast), 0..1, default 0 */
  faint?: number;
  /** slow lighting drift along the frame index (brightness ±0.1·drift, contrast ×1±0.35·drift), 0..1, default 0 */
  drift?: number;
  /** surface texture amplitude relative to the default, 0..4, default 1 */
  texture?: number;
  /** share of frames blurred along one axis (3–7 px at 320×240), 0..1, default 0 */
  blur?: number;
}

export type ResolvedSynthOptions = Required<SynthOptions>;

/** Applies defaults and rejects out-of-range options with a RangeError naming the option. */
export function resolveSynthOptions(opts: SynthOptions): ResolvedSynthOptions {
  const surface = opts.surface ?? "brushed-metal";
  const o: ResolvedSynthOptions = {
    seed: opts.seed,
    width: opts.width ?? 320,
    height: opts.height ?? 240,
    defectRate: opts.defectRate ?? 0.3,
    surface,
    jpegQuality: opts.jpegQuality ?? 85,
    defects: opts.defects ?? (allSurfaceKinds.includes(surface) ? defaultDefectsFor(surface) : []),
    maxDefects: opts.maxDefects ?? 1,
    masks: opts.masks ?? false,
    noise: opts.noise ?? 0.012,
    lightingJitter: opts.lightingJitter ?? 1,
    faint: opts.faint ?? 0,
    drift: opts.drift ?? 0,
    texture: opts.texture ?? 1,
    blur: opts.blur ?? 0,
  };
  if (!Number.isSafeInteger(o.seed)) throw new RangeError(`synth: seed must be a safe integer, got ${o.seed}`);
  // below 32 px the largest defects no longer fit
  for (const k of ["width", "height"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 32 || o[k] > 8192) {
      throw new RangeError(`synth: ${k} must be an integer in 32..8192, got ${o[k]}`);
    }
  }
  if (!(o.defectRate >= 0 && o.defectRate <= 1)) {
    throw new RangeError(`synth: defectRate must be in 0..1, got ${o.defectRate}`);
  }
  if (!allSurfaceKinds.includes(o.surface)) {
    throw new RangeError(`synth: surface must be one of ${allSurfaceKinds.join(", ")}, got ${o.surface}`);
  }
  if (!Number.isInteger(o.jpegQuality) || o.jpegQuality < 1 || o.jpegQuality > 100) {
    throw new RangeError(`synth: jpegQuality must be an integer in 1..100, got ${o.jpegQuality}`);
  }
  const allowed = defectTypesFor(o.surface);
  if (!Array.isArray(o.defects) || o.defects.length === 0) {
    throw new RangeError(`synth: defects must be a non-empty list from ${allowed.join(", ")}`);
  }
  for (const [k, t] of o.defects.entries()) {
    if (!allowed.includes(t) || o.defects.indexOf(t) !== k) {
      throw new RangeError(`synth: defects[${k}] must be one of ${allowed.join(", ")} on ${o.surface}, once, got ${t}`);
    }
  }
  o.defects = Object.freeze([...o.defects]);
  if (!Number.isInteger(o.maxDefects) || o.maxDefects < 1 || o.maxDefects > 16) {
    throw new RangeError(`synth: maxDefects must be an integer in 1..16, got ${o.maxDefects}`);
  }
  if (typeof o.masks !== "boolean") throw new RangeError(`synth: masks must be a boolean, got ${o.masks}`);
  if (!(o.noise >= 0 && o.noise <= 0.2)) throw new RangeError(`synth: noise must be in 0..0.2, got ${o.noise}`);
  if (!(o.lightingJitter >= 0 && o.lightingJitter <= 10)) {
    throw new RangeError(`synth: lightingJitter must be in 0..10, got ${o.lightingJitter}`);
  }
  for (const [k, max] of [
    ["faint", 1],
    ["drift", 1],
    ["texture", 4],
    ["blur", 1],
  ] as const) {
    if (!(o[k] >= 0 && o[k] <= max)) throw new RangeError(`synth: ${k} must be in 0..${max}, got ${o[k]}`);
  }
  return o;
}
