import { type Static, Type } from "@sinclair/typebox";
import { List } from "../common.js";
import { Sha256 } from "../manifest.js";
import { defineRoutes } from "../route.js";

/*
 * Golden references of reference-image inspection (docs/datasets.md "Reference images"): one
 * image per product / recipe key of a project, one of them the project's default. Samples name
 * their key; a training run with `reference: true` trains a reference-aware model on them.
 */

/** A product / recipe key: letters, digits and `._-`, as frames and samples name it. */
export const ReferenceKey = Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$" });

export const ProjectReference = Type.Object(
  {
    key: ReferenceKey,
    sha256: Sha256,
    format: Type.Union([Type.Literal("png"), Type.Literal("jpeg")]),
    width: Type.Integer({ minimum: 1 }),
    height: Type.Integer({ minimum: 1 }),
    /** samples without a key are compared with the default reference */
    isDefault: Type.Boolean(),
    createdBy: Type.String(),
    createdAt: Type.String(),
  },
  { additionalProperties: false },
);
export type ProjectReference = Static<typeof ProjectReference>;

export const AddReferenceQuery = Type.Object(
  {
    key: ReferenceKey,
    /** make this the project's default (the first reference of a project always is) */
    default: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type AddReferenceQuery = Static<typeof AddReferenceQuery>;

const ProjectParams = Type.Object({ id: Type.String() });
const KeyParams = Type.Object({ id: Type.String(), key: ReferenceKey });

export const referenceRoutes = defineRoutes({
  addReference: {
    method: "POST",
    path: "/api/v1/projects/:id/references",
    summary: "Register (or replace) the golden reference image of a product / recipe key",
    permission: "datasets:manage",
    params: ProjectParams,
    query: AddReferenceQuery,
    upload: { kind: "bytes", types: ["image/png", "image/jpeg"] },
    status: 201,
    reply: ProjectReference,
    errors: [
      "KENSA_ERR_PROJECT_NOT_FOUND",
      "KENSA_ERR_MEDIA_INVALID",
      "KENSA_ERR_REFERENCE_INVALID",
      "KENSA_ERR_UPLOAD_TOO_LARGE",
      "KENSA_ERR_IMAGE_TOO_LARGE",
    ],
  },
  listReferences: {
    method: "GET",
    path: "/api/v1/projects/:id/references",
    summary: "The project's golden references, the default first",
    permission: "datasets:read",
    params: ProjectParams,
    reply: List(ProjectReference),
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
  removeReference: {
    method: "DELETE",
    path: "/api/v1/projects/:id/references/:key",
    summary: "Remove a golden reference (snapshots and models that froze it keep its image)",
    permission: "datasets:manage",
    params: KeyParams,
    status: 204,
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND", "KENSA_ERR_REFERENCE_NOT_FOUND"],
  },
});
