import { type Static, Type } from "@sinclair/typebox";
import { EntityId as Id, Timestamp as Ts } from "../common.js";
import { ModelManifest, Sha256 } from "../manifest.js";

// ---- model versions ---------------------------------------------------------------------

export const ModelStage = Type.Union([
  Type.Literal("candidate"),
  Type.Literal("approved"),
  Type.Literal("rejected"),
  Type.Literal("archived"),
]);

/** Where a model version came from: recorded when a run registers it (uploads have none). */
export const ModelLineage = Type.Object({
  /** the snapshot it was trained on */
  snapshotId: Type.Union([Type.String(), Type.Null()]),
  runId: Type.Union([Type.String(), Type.Null()]),
  /** the trainer's configured name and what it reported itself to be */
  trainer: Type.Union([Type.String(), Type.Null()]),
  trainerVersion: Type.Union([Type.String(), Type.Null()]),
  params: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  /** git commit of the hub's code at training time, or "unknown" */
  codeRevision: Type.String(),
});
export type ModelLineage = Static<typeof ModelLineage>;

export const ModelVersion = Type.Object({
  id: Id,
  projectId: Id,
  version: Type.Integer({ minimum: 1 }),
  name: Type.String(),
  sha256: Sha256,
  size: Type.Integer(),
  stage: ModelStage,
  manifest: ModelManifest,
  source: Type.String({ description: "upload | run:<id>" }),
  createdAt: Ts,
  /** training lineage; null for uploaded models */
  lineage: Type.Optional(Type.Union([ModelLineage, Type.Null()])),
  /** the sha256 of the int8 variant the trainer also wrote, when it did */
  int8Sha256: Type.Optional(Type.Union([Sha256, Type.Null()])),
  /** the project's approved model in service now */
  champion: Type.Optional(Type.Boolean()),
});
export type ModelVersion = Static<typeof ModelVersion>;

/** Query of `GET /models`: one project's versions, or every project's. */
export const ModelQuery = Type.Object({ projectId: Type.Optional(Type.String()) }, { additionalProperties: false });
export type ModelQuery = Static<typeof ModelQuery>;
