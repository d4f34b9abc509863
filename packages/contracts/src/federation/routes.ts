import { Type } from "@sinclair/typebox";
import { RolloutAction } from "../fleet/rollouts.js";
import { Sha256 } from "../manifest.js";
import { defineRoutes } from "../route.js";
import {
  PushSiteRolloutCommandResults,
  SiteRolloutCommand,
  SiteRolloutCommandOrdersReply,
  SiteRolloutCommandParams,
} from "./command-schemas.js";
import { CreateSiteRollout, PushSiteRollouts, SiteRollout, SiteRolloutOrdersReply } from "./rollout-schemas.js";
import {
  CreateSite,
  FederationStatus,
  PushIncidents,
  PushReply,
  PushSiteSamples,
  PushVerdicts,
  Site,
  SiteField,
  SiteFleet,
  SiteFrameParams,
  SiteModelFileParams,
  SiteModelsQuery,
  SiteModelsReply,
  SiteParams,
  SiteWithToken,
} from "./schemas.js";

/*
 * The routes a site hub calls on its central hub authenticate with the site's token
 * (Authorization: Bearer kensa_site_…, checked against the digest in central's `sites` table and
 * the `:id` in the path), so they are "public" to the people/device authentication, like the
 * worker routes. Sites are managed by admins (`kensa site add|list|token`).
 */
const SITE_AUTH = ["KENSA_ERR_SITE_TOKEN_INVALID"] as const;

/** pause, resume and rollback of a site rollout from central: recorded here, applied by the site */
const siteRolloutCommand = (action: string, summary: string) =>
  ({
    method: "POST",
    path: `/api/v1/sites/:id/rollouts/:rolloutId/${action}`,
    summary,
    permission: "deployments:manage",
    params: SiteRolloutCommandParams,
    body: RolloutAction,
    status: 202,
    reply: SiteRolloutCommand,
    errors: ["KENSA_ERR_SITE_NOT_FOUND", "KENSA_ERR_ROLLOUT_NOT_FOUND", "KENSA_ERR_ROLLOUT_STATE"],
  }) as const;

export const federationRoutes = defineRoutes({
  listSites: {
    method: "GET",
    path: "/api/v1/sites",
    summary: "Sites federated to this central hub, with their last fleet summary",
    permission: "projects:read",
    reply: Type.Object({ items: Type.Array(Site) }),
  },
  createSite: {
    method: "POST",
    path: "/api/v1/sites",
    summary: "Register a site hub and the projects it serves; its token is shown once",
    // a site token pushes incidents and pulls models: issuing one is an admin's act, like a user's
    permission: "users:manage",
    body: CreateSite,
    status: 201,
    reply: SiteWithToken,
    errors: ["KENSA_ERR_SITE_EXISTS"],
  },
  rotateSiteToken: {
    method: "POST",
    path: "/api/v1/sites/:id/token",
    summary: "Issue a new token for a site (the old one stops working at once)",
    permission: "users:manage",
    params: SiteParams,
    reply: SiteWithToken,
    errors: ["KENSA_ERR_SITE_NOT_FOUND"],
  },
  createSiteRollout: {
    method: "POST",
    path: "/api/v1/sites/:id/rollouts",
    summary: "Ask a site to roll an approved model version out to some of its devices in waves, with its own gates",
    permission: "deployments:manage",
    params: SiteParams,
    body: CreateSiteRollout,
    status: 201,
    reply: SiteRollout,
    errors: [
      "KENSA_ERR_SITE_NOT_FOUND",
      "KENSA_ERR_MODEL_NOT_FOUND",
      "KENSA_ERR_MODEL_NOT_DEPLOYABLE",
      "KENSA_ERR_SITE_PROJECT_UNKNOWN",
    ],
  },
  listSiteRollouts: {
    method: "GET",
    path: "/api/v1/sites/:id/rollouts",
    summary: "A site's rollouts, newest first, each with the state, waves and gate verdicts the site last reported",
    permission: "deployments:read",
    params: SiteParams,
    reply: Type.Object({ items: Type.Array(SiteRollout) }),
    errors: ["KENSA_ERR_SITE_NOT_FOUND"],
  },
  pauseSiteRollout: siteRolloutCommand(
    "pause",
    "Ask a site to pause a rollout central asked of it; applied on the site's next sync",
  ),
  resumeSiteRollout: siteRolloutCommand(
    "resume",
    "Ask a site to resume a paused rollout central asked of it; applied on the site's next sync",
  ),
  rollbackSiteRollout: siteRolloutCommand(
    "rollback",
    "Ask a site to roll back a rollout central asked of it (its devices return to what they ran before)",
  ),
  pushIncidents: {
    method: "POST",
    path: "/api/v1/federation/sites/:id/incidents",
    summary: "A site pushes incidents, in order; each is stored once by the site's incident id (site token)",
    auth: "public",
    params: SiteParams,
    body: PushIncidents,
    reply: PushReply,
    errors: SITE_AUTH,
  },
  pushVerdicts: {
    method: "POST",
    path: "/api/v1/federation/sites/:id/verdicts",
    summary: "A site pushes verdicts on incidents it pushed before; each is stored once (site token)",
    auth: "public",
    params: SiteParams,
    body: PushVerdicts,
    reply: PushReply,
    errors: SITE_AUTH,
  },
  pushFrame: {
    method: "PUT",
    path: "/api/v1/federation/sites/:id/frames/:sha256",
    summary:
      "A site uploads an incident frame, a sample image or a mask before the item that names it; stored once by its sha256 (site token)",
    auth: "public",
    params: SiteFrameParams,
    upload: { kind: "bytes", types: ["application/octet-stream"] },
    reply: Type.Object({ sha256: Sha256, size: Type.Integer() }),
    errors: [...SITE_AUTH, "KENSA_ERR_FEDERATION_HASH_MISMATCH", "KENSA_ERR_MEDIA_INVALID"],
  },
  pushFleet: {
    method: "PUT",
    path: "/api/v1/federation/sites/:id/fleet",
    summary: "A site's fleet summary: devices online per project and the models they run (site token)",
    auth: "public",
    params: SiteParams,
    body: SiteFleet,
    status: 204,
    errors: SITE_AUTH,
  },
  pushSamples: {
    method: "POST",
    path: "/api/v1/federation/sites/:id/samples",
    summary:
      "A site pushes labelled samples, in order; each is one sample of central's project, relabelled by a later revision (site token)",
    auth: "public",
    params: SiteParams,
    body: PushSiteSamples,
    reply: PushReply,
    errors: SITE_AUTH,
  },
  pushField: {
    method: "PUT",
    path: "/api/v1/federation/sites/:id/field",
    summary:
      "A site's field figures per project and model version (incidents, verdicts, precision); the latest is kept (site token)",
    auth: "public",
    params: SiteParams,
    body: SiteField,
    status: 204,
    errors: SITE_AUTH,
  },
  models: {
    method: "GET",
    path: "/api/v1/federation/sites/:id/models",
    summary: "Model approvals of the site's projects after a cursor, oldest first (site token)",
    auth: "public",
    params: SiteParams,
    query: SiteModelsQuery,
    reply: SiteModelsReply,
    errors: [...SITE_AUTH, "KENSA_ERR_VALIDATION"],
  },
  modelFile: {
    method: "GET",
    path: "/api/v1/federation/sites/:id/models/:modelId/file",
    summary: "The ONNX file of a model version of one of the site's projects (site token)",
    auth: "public",
    params: SiteModelFileParams,
    produces: { kind: "bytes", types: ["application/octet-stream"] },
    errors: [...SITE_AUTH, "KENSA_ERR_MODEL_NOT_FOUND", "KENSA_ERR_BLOB_NOT_FOUND"],
  },
  rolloutOrders: {
    method: "GET",
    path: "/api/v1/federation/sites/:id/rollouts",
    summary: "Rollouts central asked of the site after a cursor, oldest first (site token)",
    auth: "public",
    params: SiteParams,
    query: SiteModelsQuery,
    reply: SiteRolloutOrdersReply,
    errors: [...SITE_AUTH, "KENSA_ERR_VALIDATION"],
  },
  pushRollouts: {
    method: "POST",
    path: "/api/v1/federation/sites/:id/rollouts",
    summary:
      "A site pushes the state of the rollouts it runs for central; the newest report of each is kept (site token)",
    auth: "public",
    params: SiteParams,
    body: PushSiteRollouts,
    reply: PushReply,
    errors: SITE_AUTH,
  },
  rolloutCommands: {
    method: "GET",
    path: "/api/v1/federation/sites/:id/rollout-commands",
    summary:
      "Pause, resume and rollback commands central sent to the site's rollouts after a cursor, oldest first (site token)",
    auth: "public",
    params: SiteParams,
    query: SiteModelsQuery,
    reply: SiteRolloutCommandOrdersReply,
    errors: [...SITE_AUTH, "KENSA_ERR_VALIDATION"],
  },
  pushRolloutCommandResults: {
    method: "POST",
    path: "/api/v1/federation/sites/:id/rollout-commands",
    summary: "A site pushes what came of each command (applied, or refused with its code); stored once (site token)",
    auth: "public",
    params: SiteParams,
    body: PushSiteRolloutCommandResults,
    reply: PushReply,
    errors: SITE_AUTH,
  },
  status: {
    method: "GET",
    path: "/api/v1/federation/status",
    summary: "This hub's federation role and, on a site hub, the state of its uplink to central",
    permission: "authenticated",
    reply: FederationStatus,
  },
});
