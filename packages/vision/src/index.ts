export type { ClassificationResult } from "@kensa/contracts";
export { checkModelAgainstManifest } from "./check-model-against-manifest.js";
export { type Classification, Classifier } from "./classifier.js";
export { classify } from "./classify.js";
export { type LoadModelOptions, loadModel, type ModelRunner, type TensorData } from "./load-model.js";
export { percentile } from "./percentile.js";
export { inputDims, type Preprocessed, preprocess } from "./preprocess.js";
export { type ImageInfo, probeImage } from "./probe-image.js";
