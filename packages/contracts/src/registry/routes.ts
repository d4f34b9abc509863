import { Type } from "@sinclair/typebox";
import { List } from "../common.js";
import { defineRoutes } from "../route.js";
import { ModelQuery, ModelVersion } from "./models.js";
import {
  Approval,
  Champion,
  CreateEvaluation,
  Decide,
  DecideReply,
  Evaluation,
  GateQueued,
  GateReport,
  ModelDetails,
  RunGate,
} from "./schemas.js";

const IdParams = Type.Object({ id: Type.String() });

/** approve, reject and archive: a person's decision on a model version */
const decision = <P extends string>(path: P, summary: string) =>
  ({
    method: "POST",
    path,
    summary,
    permission: "models:approve",
    params: IdParams,
    body: Decide,
    reply: DecideReply,
    errors: ["KENSA_ERR_MODEL_NOT_FOUND", "KENSA_ERR_MODEL_STAGE_CONFLICT"],
  }) as const;

/**
 * The model registry: model versions and their files, evaluations on a snapshot's test split,
 * the champion/challenger gate, people's decisions, model cards and each project's champion.
 */
export const registryRoutes = defineRoutes({
  upload: {
    method: "POST",
    path: "/api/v1/models",
    summary: "Upload a model version (ONNX file and manifest) as a candidate",
    permission: "models:upload",
    // `manifest` is the ModelManifest as JSON; `name` defaults to the file's name without .onnx
    upload: { kind: "multipart", fields: ["projectId", "manifest", "name"], files: ["model"] },
    status: 201,
    reply: ModelVersion,
    errors: [
      "KENSA_ERR_UPLOAD_MISSING_PART",
      "KENSA_ERR_UPLOAD_TOO_LARGE",
      "KENSA_ERR_PROJECT_NOT_FOUND",
      "KENSA_ERR_MANIFEST_INVALID",
      "KENSA_ERR_MODEL_INVALID_ONNX",
      "KENSA_ERR_MODEL_MANIFEST_MISMATCH",
    ],
  },
  list: {
    method: "GET",
    path: "/api/v1/models",
    summary: "List model versions, newest first per project",
    permission: "models:read",
    query: ModelQuery,
    reply: List(ModelVersion),
  },
  get: {
    method: "GET",
    path: "/api/v1/models/:id",
    summary: "One model version",
    permission: "models:read",
    params: IdParams,
    reply: ModelVersion,
    errors: ["KENSA_ERR_MODEL_NOT_FOUND"],
  },
  download: {
    method: "GET",
    path: "/api/v1/models/:id/file",
    summary: "Download a model version's ONNX file",
    permission: "models:read",
    params: IdParams,
    produces: { kind: "bytes", types: ["application/octet-stream"] },
    errors: ["KENSA_ERR_MODEL_NOT_FOUND", "KENSA_ERR_BLOB_NOT_FOUND"],
  },
  evaluate: {
    method: "POST",
    path: "/api/v1/models/:id/evaluations",
    // 200 instead when the pair's evaluation has already succeeded
    summary: "Evaluate a model version on a snapshot's test split (queued, or the stored result)",
    permission: "runs:manage",
    params: IdParams,
    body: Type.Optional(CreateEvaluation),
    status: 202,
    reply: Evaluation,
    errors: ["KENSA_ERR_MODEL_NOT_FOUND", "KENSA_ERR_SNAPSHOT_NOT_FOUND", "KENSA_ERR_SNAPSHOT_PROJECT_MISMATCH"],
  },
  listEvaluations: {
    method: "GET",
    path: "/api/v1/models/:id/evaluations",
    summary: "A model version's evaluations",
    permission: "models:read",
    params: IdParams,
    reply: List(Evaluation),
  },
  getEvaluation: {
    method: "GET",
    path: "/api/v1/evaluations/:id",
    summary: "One evaluation",
    permission: "models:read",
    params: IdParams,
    reply: Evaluation,
    errors: ["KENSA_ERR_EVALUATION_NOT_FOUND"],
  },
  runGate: {
    method: "POST",
    path: "/api/v1/models/:id/gate",
    summary: "Queue the champion/challenger gate for a model version",
    // the gate may approve the model, so asking for it takes the right to approve
    permission: "models:approve",
    params: IdParams,
    body: Type.Optional(RunGate),
    status: 202,
    reply: GateQueued,
    errors: ["KENSA_ERR_MODEL_NOT_FOUND", "KENSA_ERR_SNAPSHOT_NOT_FOUND", "KENSA_ERR_SNAPSHOT_PROJECT_MISMATCH"],
  },
  gate: {
    method: "GET",
    path: "/api/v1/models/:id/gate",
    summary: "A model version's latest gate report",
    permission: "models:read",
    params: IdParams,
    reply: GateReport,
    errors: ["KENSA_ERR_MODEL_NOT_FOUND", "KENSA_ERR_GATE_NOT_FOUND"],
  },
  approve: decision(
    "/api/v1/models/:id/approve",
    "Approve a model version: it becomes its project's champion and deploys to the auto-deploy targets",
  ),
  reject: decision("/api/v1/models/:id/reject", "Reject a model version"),
  archive: decision("/api/v1/models/:id/archive", "Archive a model version"),
  approvals: {
    method: "GET",
    path: "/api/v1/models/:id/approvals",
    summary: "The decisions taken on a model version, oldest first",
    permission: "models:read",
    params: IdParams,
    reply: List(Approval),
    errors: ["KENSA_ERR_MODEL_NOT_FOUND"],
  },
  details: {
    method: "GET",
    path: "/api/v1/models/:id/details",
    summary: "A model version's run, evaluations, gate report and approvals",
    permission: "models:read",
    params: IdParams,
    reply: ModelDetails,
    errors: ["KENSA_ERR_MODEL_NOT_FOUND"],
  },
  card: {
    method: "GET",
    path: "/api/v1/models/:id/card",
    summary: "A model version's model card (Markdown)",
    permission: "models:read",
    params: IdParams,
    produces: { kind: "text", types: ["text/markdown"] },
    errors: ["KENSA_ERR_MODEL_NOT_FOUND", "KENSA_ERR_PROJECT_NOT_FOUND"],
  },
  champion: {
    method: "GET",
    path: "/api/v1/projects/:id/champion",
    summary: "A project's champion: its approved model in service",
    permission: "models:read",
    params: IdParams,
    reply: Champion,
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
});
