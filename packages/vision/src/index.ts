export type {
  AnomalyResult,
  ClassificationResult,
  DetectionResult,
  InferenceResult,
  SegmentationResult,
} from "@kensa/contracts";
export { checkModelAgainstManifest } from "./check-model-against-manifest.js";
export { type Classification, Classifier } from "./classifier.js";
export { classify } from "./classify.js";
export { type ImageKind, type ImageMime, imageKind, imageMime, isCompleteImage, sniffImage } from "./image-bytes.js";
export { imageSize } from "./image-size.js";
export { type Inference, Inferencer, type PreparedFrame } from "./inferencer.js";
export { type LoadModelOptions, loadModel, type ModelRunner, type TensorData } from "./load-model.js";
export { percentile } from "./percentile.js";
export { connectedRegions, type MaskRegion } from "./postprocess/connected-regions.js";
export { type DetectionTensors, decodeDetections } from "./postprocess/decode-detections.js";
export { detect } from "./postprocess/detect.js";
export { type Candidate, intersectionOverUnion, nonMaxSuppression } from "./postprocess/non-max-suppression.js";
export type { Postprocessor, PostprocessorFactory } from "./postprocess/postprocessor.js";
export { createPostprocessor, postprocessors } from "./postprocess/postprocessors.js";
export { anomalyLabel, scoreAnomaly } from "./postprocess/score-anomaly.js";
export { segment } from "./postprocess/segment.js";
export { inputDims, type Preprocessed, preprocess } from "./preprocess.js";
export { type ImageInfo, probeImage } from "./probe-image.js";
export {
  bestShift,
  decodeReferences,
  gradient,
  modelInputDims,
  type RawImage,
  type ReferenceSet,
  referenceFor,
  referencesOf,
  shiftImage,
  stackInput,
  withReference,
} from "./reference-input.js";
export { planResize, type ResizePlan, type ResizeTransform, toOriginalBox } from "./resize-transform.js";
export { type FrameMap, inferMap } from "./tiling/infer-map.js";
export { type Tile, tileLayout, tileStarts } from "./tiling/layout.js";
export {
  mergeTileDetections,
  type TileDetection,
  toFrame as tileDetectionsToFrame,
} from "./tiling/merge-detections.js";
export { type StitchedMap, type StitchMode, stitchMaps } from "./tiling/stitch-maps.js";
export { TILE_BATCH, TileRunner } from "./tiling/tile-runner.js";
export { stitchOutputs, TILE_PAD, TiledModel, type TiledTensors, tileFrame } from "./tiling/tiled-inference.js";
