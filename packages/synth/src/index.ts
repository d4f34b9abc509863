export {
  type DefectType,
  defectClassIndex,
  defectTypes,
  defectTypesFor,
  type SynthDefect,
} from "./defect-type.js";
export { DRIFT_PERIOD_FRAMES, hardPreset } from "./hardness.js";
export { maskToPolygons } from "./mask-to-polygons.js";
export { type CocoRle, maskToRle } from "./mask-to-rle.js";
export { measureSynthSpeed, type SynthSpeed, type SynthSpeedOptions } from "./measure-synth-speed.js";
export { mulberry32, type Rng, streamKey } from "./mulberry32.js";
export {
  encodeJpeg,
  encodeMaskPng,
  renderFrame,
  renderPixels,
  type SynthFrame,
  type SynthPixels,
} from "./render-frame.js";
export { allSurfaceKinds, plainSurfaceKinds, type SurfaceKind, surfaceKinds } from "./surface-kind.js";
export { type ResolvedSynthOptions, resolveSynthOptions, type SynthOptions } from "./synth-options.js";
export { SyntheticCamera } from "./synthetic-camera.js";
export {
  type DatasetFormat,
  datasetFormats,
  type SyntheticDatasetOptions,
  type SyntheticDatasetSummary,
  writeSyntheticDataset,
} from "./write-synthetic-dataset.js";
