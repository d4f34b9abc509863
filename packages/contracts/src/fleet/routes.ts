import { Type } from "@sinclair/typebox";
import { List } from "../common.js";
import { defineRoutes } from "../route.js";
import { DeploymentTargets } from "./bundle-targets.js";
import {
  DeviceCertificate,
  DeviceCertificateParams,
  IssueDeviceCertificate,
  IssuedDeviceCertificate,
} from "./certificates.js";
import {
  CreateDeployment,
  Deployment,
  DeploymentQuery,
  Device,
  DeviceQuery,
  EnrollDevice,
  EnrolledDevice,
  UpdateDevice,
  UpdatedDevice,
} from "./schemas.js";

const IdParams = Type.Object({ id: Type.String() });
/** a device id as an agent sends it in an upload's path */
const DeviceIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const ShaParams = Type.Object({ sha: Type.String() });

/** Fleet: devices and their enrolment, their latest frame, deployments and the bundles and blobs agents fetch. */
export const fleetRoutes = defineRoutes({
  enroll: {
    method: "POST",
    path: "/api/v1/devices",
    summary: "Enroll a device; the reply is the only one that shows its secret",
    permission: "devices:manage",
    body: EnrollDevice,
    status: 201,
    reply: EnrolledDevice,
    errors: [
      "KENSA_ERR_PROJECT_NOT_FOUND",
      "KENSA_ERR_DEVICE_EXISTS",
      "KENSA_ERR_DEVICE_CA_DISABLED",
      "KENSA_ERR_CSR_INVALID",
    ],
  },
  list: {
    method: "GET",
    path: "/api/v1/devices",
    summary: "List devices, with their presence, reported state and telemetry",
    permission: "devices:read",
    query: DeviceQuery,
    reply: List(Device),
  },
  get: {
    method: "GET",
    path: "/api/v1/devices/:id",
    summary: "One device",
    permission: "devices:read",
    params: IdParams,
    reply: Device,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND"],
  },
  update: {
    method: "PATCH",
    path: "/api/v1/devices/:id",
    summary:
      "Change a device's name, description or tags; a tag change gives it the tag deployments its new tags now select",
    permission: "devices:manage",
    params: IdParams,
    body: UpdateDevice,
    reply: UpdatedDevice,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND", "KENSA_ERR_VALIDATION"],
  },
  retire: {
    method: "POST",
    path: "/api/v1/devices/:id/retire",
    summary:
      "Take a device out of service for good: revoked and disconnected now, left out of counts, listings and deployments; its history stays",
    permission: "devices:manage",
    params: IdParams,
    reply: Device,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND"],
  },
  remove: {
    method: "DELETE",
    path: "/api/v1/devices/:id",
    summary:
      "Delete a retired device (or one that never connected): its record, credentials, certificates and latest frame go; events, incidents and media stay",
    permission: "devices:manage",
    params: IdParams,
    status: 204,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND", "KENSA_ERR_DEVICE_NOT_RETIRED"],
  },
  rotateSecret: {
    method: "POST",
    path: "/api/v1/devices/:id/secret/rotate",
    summary:
      "Give a device a new secret, shown once; the old one, its client certificates and its live MQTT session end now (re-enables a revoked device)",
    permission: "devices:manage",
    params: IdParams,
    reply: EnrolledDevice,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND", "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE", "KENSA_ERR_DEVICE_RETIRED"],
  },
  revoke: {
    method: "POST",
    path: "/api/v1/devices/:id/revoke",
    summary:
      "Revoke a device's credentials and client certificates and end its live MQTT session; its data stays (rotating re-enables it)",
    permission: "devices:manage",
    params: IdParams,
    reply: Device,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND"],
  },
  issueCertificate: {
    method: "POST",
    path: "/api/v1/devices/:id/certificate",
    summary:
      "Issue a device a client certificate for the embedded broker, from its CSR or with a key pair made once; recorded, revocable",
    permission: "devices:manage",
    params: IdParams,
    body: IssueDeviceCertificate,
    status: 201,
    reply: IssuedDeviceCertificate,
    errors: [
      "KENSA_ERR_DEVICE_NOT_FOUND",
      "KENSA_ERR_DEVICE_REVOKED",
      "KENSA_ERR_DEVICE_CA_DISABLED",
      "KENSA_ERR_CSR_INVALID",
    ],
  },
  listCertificates: {
    method: "GET",
    path: "/api/v1/devices/:id/certificates",
    summary: "The client certificates issued to a device, newest first, with their revocation",
    permission: "devices:read",
    params: IdParams,
    reply: List(DeviceCertificate),
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND"],
  },
  revokeCertificate: {
    method: "POST",
    path: "/api/v1/devices/:id/certificates/:serial/revoke",
    summary: "Revoke one client certificate of a device; sessions of the device end and it is refused from now on",
    permission: "devices:manage",
    params: DeviceCertificateParams,
    reply: DeviceCertificate,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND", "KENSA_ERR_DEVICE_CERTIFICATE_NOT_FOUND"],
  },
  getFrame: {
    method: "GET",
    path: "/api/v1/devices/:id/frame",
    summary: "The latest frame a device uploaded (a JPEG thumbnail)",
    permission: "devices:read",
    params: DeviceIdParams,
    produces: { kind: "bytes", types: ["image/jpeg"] },
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND", "KENSA_ERR_DEVICE_FRAME_NOT_FOUND"],
  },
  uploadFrame: {
    method: "PUT",
    path: "/api/v1/devices/:id/frame",
    summary: "A device uploads its latest frame (a complete JPEG) for the console",
    auth: "device",
    params: DeviceIdParams,
    upload: { kind: "bytes", types: ["image/jpeg"] },
    status: 204,
    errors: ["KENSA_ERR_MEDIA_INVALID", "KENSA_ERR_UPLOAD_TOO_LARGE"],
  },
  createDeployment: {
    method: "POST",
    path: "/api/v1/deployments",
    summary: "Deploy a model version's bundle to devices picked by id or tag",
    permission: "deployments:manage",
    body: CreateDeployment,
    status: 201,
    reply: Deployment,
    errors: [
      "KENSA_ERR_MODEL_NOT_FOUND",
      "KENSA_ERR_PROJECT_NOT_FOUND",
      "KENSA_ERR_DEVICE_NOT_FOUND",
      "KENSA_ERR_DEPLOYMENT_NO_TARGETS",
      "KENSA_ERR_DEVICE_RETIRED",
      "KENSA_ERR_DEPLOYMENT_PRECISION_UNAVAILABLE",
      "KENSA_ERR_MODEL_NOT_DEPLOYABLE",
    ],
  },
  listDeployments: {
    method: "GET",
    path: "/api/v1/deployments",
    summary: "List deployments",
    permission: "deployments:read",
    query: DeploymentQuery,
    reply: List(Deployment),
  },
  deploymentTargets: {
    method: "GET",
    path: "/api/v1/deployments/:id/targets",
    summary:
      "Which bundle target (architecture, precision, runtime) each device of a deployment got, and its self-test parity",
    permission: "deployments:read",
    params: IdParams,
    reply: DeploymentTargets,
    errors: ["KENSA_ERR_DEPLOYMENT_NOT_FOUND"],
  },
  getBundle: {
    method: "GET",
    path: "/api/v1/bundles/:sha",
    summary: "A bundle manifest, byte for byte as hashed (devices: their project's only)",
    auth: "user-or-device",
    permission: "deployments:read",
    params: ShaParams,
    produces: { kind: "bytes", types: ["application/json"] },
    // whole (200) or the one byte range asked (206; ETag = the sha256, If-Range honoured)
    errors: ["KENSA_ERR_BUNDLE_NOT_FOUND", "KENSA_ERR_RANGE_NOT_SATISFIABLE", "KENSA_ERR_BLOB_CORRUPT"],
  },
  getBlob: {
    method: "GET",
    path: "/api/v1/blobs/:sha",
    summary: "A blob by its sha256 (devices: their project's models and bundles only)",
    auth: "user-or-device",
    // people: any blob by its hash (models, bundles, media), hence the broad models:read
    permission: "models:read",
    params: ShaParams,
    produces: { kind: "bytes", types: ["application/octet-stream"] },
    // whole (200) or the one byte range asked (206; ETag = the sha256, If-Range honoured)
    errors: ["KENSA_ERR_BLOB_NOT_FOUND", "KENSA_ERR_RANGE_NOT_SATISFIABLE", "KENSA_ERR_BLOB_CORRUPT"],
  },
});
