export {
  BLEMISH_PARAMS,
  type BlemishChannel,
  type BlemishModelOptions,
  type BlemishParams,
  buildBlemishGraph,
  buildBlemishModel,
} from "./blemish-model.js";
export { type Attribute, type Dim, GraphBuilder, IR_VERSION, OPSET } from "./graph-builder.js";
