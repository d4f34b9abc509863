export { type DefectType, defectTypes, type SynthDefect } from "./draw-defect.js";
export { mulberry32, type Rng, streamKey } from "./mulberry32.js";
export {
  type ResolvedSynthOptions,
  renderFrame,
  renderPixels,
  resolveSynthOptions,
  type SynthFrame,
  type SynthOptions,
  type SynthPixels,
} from "./render-frame.js";
export { type SurfaceKind, surfaceKinds } from "./render-surface.js";
export { SyntheticCamera } from "./synthetic-camera.js";
