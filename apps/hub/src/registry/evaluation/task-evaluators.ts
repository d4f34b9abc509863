import type { Task } from "@kensa/contracts";
import { anomalyEvaluator } from "./evaluators/anomaly-evaluator.js";
import { classificationEvaluator } from "./evaluators/classification-evaluator.js";
import { detectionEvaluator } from "./evaluators/detection-evaluator.js";
import { segmentationEvaluator } from "./evaluators/segmentation-evaluator.js";
import type { TaskEvaluator } from "./task-evaluator.js";

/** One evaluator per task; adding a task is one entry. */
export const taskEvaluators: Record<Task, TaskEvaluator> = {
  classification: classificationEvaluator,
  segmentation: segmentationEvaluator,
  detection: detectionEvaluator,
  anomaly: anomalyEvaluator,
};
