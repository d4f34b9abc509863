import { Type } from "@sinclair/typebox";
import { List } from "../common.js";
import { defineRoutes } from "../route.js";
import { CreateLegalHold, LegalHold, RetentionOverride, RetentionPolicy, RetentionRun } from "./schemas.js";

const IdParams = Type.Object({ id: Type.String() });

/** Retention: per-project limits on events, frames, clips and captures; legal holds; the runs that apply them. */
export const retentionRoutes = defineRoutes({
  get: {
    method: "GET",
    path: "/api/v1/projects/:id/retention",
    summary: "A project's retention settings, as set and as in effect",
    permission: "projects:read",
    params: IdParams,
    reply: RetentionPolicy,
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
  set: {
    method: "PUT",
    path: "/api/v1/projects/:id/retention",
    summary: "Replace a project's retention settings (kinds and keys left out follow the hub's default)",
    permission: "projects:manage",
    params: IdParams,
    body: RetentionOverride,
    reply: RetentionPolicy,
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
  holds: {
    method: "GET",
    path: "/api/v1/projects/:id/legal-holds",
    summary: "A project's legal holds, in force and released",
    permission: "projects:read",
    params: IdParams,
    reply: List(LegalHold),
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
  hold: {
    method: "POST",
    path: "/api/v1/projects/:id/legal-holds",
    summary: "Place a legal hold on the project, one of its devices or one of its incidents",
    permission: "projects:manage",
    params: IdParams,
    body: CreateLegalHold,
    status: 201,
    reply: LegalHold,
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND", "KENSA_ERR_LEGAL_HOLD_TARGET_INVALID"],
  },
  release: {
    method: "POST",
    path: "/api/v1/legal-holds/:id/release",
    summary: "Release a legal hold (retention applies again to what it covered)",
    permission: "projects:manage",
    params: IdParams,
    reply: LegalHold,
    errors: ["KENSA_ERR_LEGAL_HOLD_NOT_FOUND"],
  },
  runs: {
    method: "GET",
    path: "/api/v1/retention/runs",
    summary: "The latest retention runs, newest first",
    permission: "projects:read",
    query: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) }),
    reply: List(RetentionRun),
  },
  run: {
    method: "POST",
    path: "/api/v1/retention/runs",
    summary: "Apply retention now (on this replica, under the retention lease)",
    permission: "projects:manage",
    status: 201,
    reply: RetentionRun,
    errors: ["KENSA_ERR_RETENTION_BUSY"],
  },
});
