export {
  BLEMISH_PARAMS,
  type BlemishChannel,
  type BlemishModelOptions,
  type BlemishParams,
  buildBlemishGraph,
  buildBlemishModel,
} from "./blemish-model.js";
export { type CalibrationInput, calibrate } from "./calibrate.js";
export {
  buildFixedOutputModel,
  buildYoloV8Model,
  type FixedOutput,
  type FixedOutputModelOptions,
  type YoloCandidate,
} from "./fixed-output-model.js";
export { type Attribute, type Dim, type ElementType, GraphBuilder, IR_VERSION, OPSET } from "./graph-builder.js";
export { type ConvSpec, FloatEmitter, type NetEmitter, type Value } from "./net-emitter.js";
export { QdqEmitter, type QuantRange } from "./qdq-emitter.js";
export { buildResNet18, buildResNet18Int8, type ResNet18Options } from "./resnet18.js";
export { heNormal, type SeededRandom, seededRandom } from "./seeded-random.js";
export { buildUNet, buildUNetInt8, type UNetOptions } from "./unet.js";
