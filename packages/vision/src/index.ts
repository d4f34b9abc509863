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
export { planResize, type ResizePlan, type ResizeTransform, toOriginalBox } from "./resize-transform.js";
