import { type Static, Type } from "@sinclair/typebox";
import { Timestamp as Ts } from "../common.js";
import { Sha256 } from "../manifest.js";
import { defineRoutes } from "../route.js";
import { Signature } from "./signing.js";

/**
 * Agent releases over the air (docs/bundles.md, "Agent updates"): the bundled agent JavaScript,
 * described by a canonical-JSON manifest that pins every file by sha256, signed like a bundle but
 * under its own signing kind (`agent-release`), so a bundle signature never passes for a release.
 */

/** dot-separated numbers, optionally with a pre-release tag: compared numerically for rollback protection */
export const AgentReleaseVersion = Type.String({ pattern: "^[0-9]+(\\.[0-9]+){0,3}(-[0-9A-Za-z.]+)?$", maxLength: 64 });

/** "any" for plain JavaScript, else the Node.js architecture (x64, arm64, …) the release is for */
export const AgentReleaseArch = Type.String({ pattern: "^(any|[a-z0-9]{2,16})$" });

/** a relative path inside the release directory, no `..` */
export const AgentReleasePath = Type.String({
  pattern: "^(?!.*(^|/)\\.\\.?(/|$))[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$",
  maxLength: 200,
});

export const AgentReleaseManifest = Type.Object(
  {
    type: Type.Literal("kensa.agent-release/v1"),
    version: AgentReleaseVersion,
    arch: AgentReleaseArch,
    /** the file the launcher runs */
    entry: AgentReleasePath,
    files: Type.Array(
      Type.Object(
        { path: AgentReleasePath, sha256: Sha256, size: Type.Integer({ minimum: 0 }) },
        {
          additionalProperties: false,
        },
      ),
      { minItems: 1, maxItems: 64 },
    ),
    createdAt: Ts,
  },
  { additionalProperties: false },
);
export type AgentReleaseManifest = Static<typeof AgentReleaseManifest>;

export const AgentRelease = Type.Object({
  /** the sha256 of the manifest's exact bytes */
  id: Sha256,
  manifest: AgentReleaseManifest,
  /** over signingInput("agent-release", the exact manifest bytes) */
  signatures: Type.Array(Signature),
});
export type AgentRelease = Static<typeof AgentRelease>;

/** The agent release a device should run, in its desired state. */
export const DesiredAgent = Type.Object({
  version: AgentReleaseVersion,
  manifestSha256: Sha256,
  /** the manifest, byte for byte as signed */
  url: Type.String(),
  /** where a file is fetched: `{sha256}` is replaced by the file's hash */
  fileUrl: Type.String(),
  signatures: Type.Array(Signature, { maxItems: 16 }),
});
export type DesiredAgent = Static<typeof DesiredAgent>;

/** Where the device's self-update stands, in its reported state. */
export const ReportedAgentUpdate = Type.Object({
  state: Type.Union([
    Type.Literal("idle"),
    Type.Literal("installing"),
    Type.Literal("restarting"),
    Type.Literal("trial"),
    Type.Literal("failed"),
  ]),
  /** the version being installed, tried, or that failed */
  version: Type.Optional(Type.String()),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});
export type ReportedAgentUpdate = Static<typeof ReportedAgentUpdate>;

export const DeployAgentRelease = Type.Object(
  {
    deviceIds: Type.Array(Type.String({ minLength: 1 }), { maxItems: 10_000 }),
    tags: Type.Array(Type.String({ minLength: 1 }), { maxItems: 100 }),
  },
  { additionalProperties: false },
);
export type DeployAgentRelease = Static<typeof DeployAgentRelease>;

const IdParams = Type.Object({ id: Type.String() });
const FileParams = Type.Object({ id: Type.String(), sha: Type.String() });

export const agentReleaseRoutes = defineRoutes({
  uploadAgentRelease: {
    method: "POST",
    path: "/api/v1/agent-releases",
    summary: "Upload an agent release (the bundled agent JavaScript) and sign its manifest",
    permission: "deployments:manage",
    // fields `version` and `arch` ("any" by default), file `agent` (the bundled kensa-agent.mjs)
    upload: { kind: "multipart", fields: ["version", "arch"], files: ["agent"] },
    status: 201,
    reply: AgentRelease,
    errors: ["KENSA_ERR_UPLOAD_MISSING_PART", "KENSA_ERR_UPLOAD_TOO_LARGE", "KENSA_ERR_AGENT_RELEASE_INVALID"],
  },
  getAgentRelease: {
    method: "GET",
    path: "/api/v1/agent-releases/:id",
    summary: "An agent release: its manifest and signatures",
    permission: "deployments:read",
    params: IdParams,
    reply: AgentRelease,
    errors: ["KENSA_ERR_AGENT_RELEASE_NOT_FOUND"],
  },
  deployAgentRelease: {
    method: "POST",
    path: "/api/v1/agent-releases/:id/deploy",
    summary: "Make an agent release the desired agent of devices picked by id or tag",
    permission: "deployments:manage",
    params: IdParams,
    body: DeployAgentRelease,
    reply: Type.Object({ deviceIds: Type.Array(Type.String()) }),
    errors: ["KENSA_ERR_AGENT_RELEASE_NOT_FOUND", "KENSA_ERR_DEVICE_NOT_FOUND", "KENSA_ERR_DEPLOYMENT_NO_TARGETS"],
  },
  agentReleaseManifest: {
    method: "GET",
    path: "/api/v1/agent-releases/:id/manifest",
    summary: "An agent release's manifest, byte for byte as signed",
    auth: "user-or-device",
    permission: "deployments:read",
    params: IdParams,
    produces: { kind: "bytes", types: ["application/json"] },
    errors: ["KENSA_ERR_AGENT_RELEASE_NOT_FOUND"],
  },
  agentReleaseFile: {
    method: "GET",
    path: "/api/v1/agent-releases/:id/files/:sha",
    summary: "One file of an agent release, by its sha256",
    auth: "user-or-device",
    permission: "deployments:read",
    params: FileParams,
    produces: { kind: "bytes", types: ["application/octet-stream"] },
    errors: ["KENSA_ERR_AGENT_RELEASE_NOT_FOUND", "KENSA_ERR_BLOB_CORRUPT"],
  },
});
