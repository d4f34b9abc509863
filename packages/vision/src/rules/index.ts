/**
 * The bundle's rule engine, pure (no I/O): the agent applies it to live frames and the hub to
 * archived ones (backtest), so both decide an incident by the same code.
 */
export { clipToRect, pointInPolygon, polygonArea, type Rect, rectInsideShare, rectOverlapShare } from "./geometry.js";
export {
  evaluatorOf,
  type FrameVerdict,
  type RuleEvaluator,
  ruleEvaluators,
  type WindowSample,
} from "./rule-evaluators.js";
export {
  best,
  boxObjects,
  candidates,
  describeObject,
  frameObjects,
  inZone,
  normalisedBox,
  type RuleInput,
  type RuleObject,
  round,
  watchedLabels,
} from "./rule-input.js";
export { RuleRunner } from "./rule-runner.js";
