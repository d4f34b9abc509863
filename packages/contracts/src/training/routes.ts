import { List } from "../common.js";
import { defineRoutes } from "../route.js";
import { Job, JobIdParams, JobQuery } from "./job-schemas.js";
import {
  CancelRun,
  CreateRun,
  ProjectRunQuery,
  RunIdParams,
  RunQuery,
  TrainingProjectParams,
  TrainingRun,
  TrainingSettings,
  UpdateTrainingSettings,
} from "./schemas.js";

/**
 * Training: runs (start, follow, cancel, their log), a project's training settings and
 * triggers, and the hub's job queue that runs them.
 */
export const trainingRoutes = defineRoutes({
  // ---- runs ----
  create: {
    method: "POST",
    path: "/api/v1/projects/:id/runs",
    summary: "Queue a training run; left-out keys come from the project's training settings",
    permission: "runs:manage",
    params: TrainingProjectParams,
    body: CreateRun,
    status: 201,
    reply: TrainingRun,
    errors: [
      "KENSA_ERR_PROJECT_NOT_FOUND",
      "KENSA_ERR_RUN_INVALID",
      "KENSA_ERR_TRAINER_UNKNOWN",
      "KENSA_ERR_SNAPSHOT_NOT_FOUND",
      "KENSA_ERR_SNAPSHOT_PROJECT_MISMATCH",
      "KENSA_ERR_SNAPSHOT_EMPTY",
    ],
  },
  listForProject: {
    method: "GET",
    path: "/api/v1/projects/:id/runs",
    summary: "A project's training runs, newest first",
    permission: "runs:read",
    params: TrainingProjectParams,
    query: ProjectRunQuery,
    reply: List(TrainingRun),
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
  list: {
    method: "GET",
    path: "/api/v1/runs",
    summary: "Training runs of every project or one, newest first",
    permission: "runs:read",
    query: RunQuery,
    reply: List(TrainingRun),
  },
  get: {
    method: "GET",
    path: "/api/v1/runs/:id",
    summary: "One training run",
    permission: "runs:read",
    params: RunIdParams,
    reply: TrainingRun,
    errors: ["KENSA_ERR_RUN_NOT_FOUND"],
  },
  cancel: {
    method: "POST",
    path: "/api/v1/runs/:id/cancel",
    summary: "Cancel a queued or running training run",
    permission: "runs:manage",
    params: RunIdParams,
    body: CancelRun,
    reply: TrainingRun,
    errors: ["KENSA_ERR_RUN_NOT_FOUND", "KENSA_ERR_RUN_NOT_CANCELLABLE"],
  },
  log: {
    method: "GET",
    path: "/api/v1/runs/:id/log",
    summary: "A run's log: live while it trains, stored once it finished",
    permission: "runs:read",
    params: RunIdParams,
    produces: { kind: "text", types: ["text/plain"] },
    errors: ["KENSA_ERR_RUN_NOT_FOUND"],
  },
  // `run` with the whole run on every change, `end` once it finished, then the stream closes
  events: {
    method: "GET",
    path: "/api/v1/runs/:id/events",
    summary: "A run's changes as Server-Sent Events until it finishes",
    permission: "runs:read",
    params: RunIdParams,
    produces: { kind: "sse", event: TrainingRun },
    errors: ["KENSA_ERR_RUN_NOT_FOUND"],
  },

  // ---- training settings and triggers ----
  settings: {
    method: "GET",
    path: "/api/v1/projects/:id/training-settings",
    summary: "A project's gate, triggers, auto-deploy and training defaults",
    permission: "runs:read",
    params: TrainingProjectParams,
    reply: TrainingSettings,
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
  updateSettings: {
    method: "PUT",
    path: "/api/v1/projects/:id/training-settings",
    summary: "Change a project's gate, triggers, auto-deploy or training defaults",
    permission: "runs:manage",
    params: TrainingProjectParams,
    body: UpdateTrainingSettings,
    reply: TrainingSettings,
    errors: [
      "KENSA_ERR_PROJECT_NOT_FOUND",
      "KENSA_ERR_CRON_INVALID",
      "KENSA_ERR_SNAPSHOT_NOT_FOUND",
      "KENSA_ERR_SNAPSHOT_PROJECT_MISMATCH",
    ],
  },

  // ---- jobs ----
  listJobs: {
    method: "GET",
    path: "/api/v1/jobs",
    summary: "The hub's job queue (training, evaluation, gate), newest first",
    permission: "runs:read",
    query: JobQuery,
    reply: List(Job),
  },
  getJob: {
    method: "GET",
    path: "/api/v1/jobs/:id",
    summary: "One job of the queue",
    permission: "runs:read",
    params: JobIdParams,
    reply: Job,
    errors: ["KENSA_ERR_JOB_NOT_FOUND"],
  },
});
