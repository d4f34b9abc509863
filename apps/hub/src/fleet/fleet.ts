import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { DeviceThrottleConfig } from "../config/device-throttle-config.js";
import type { HubDatabase } from "../db/schema.js";
import type { HubUrls } from "../http/hub-urls.js";
import type { Logger } from "../logger.js";
import type { ProjectService } from "../projects/project-service.js";
import { DeploymentService } from "./deployment-service.js";
import { DesiredSync } from "./desired-sync.js";
import { DeviceAuth } from "./device-auth.js";
import { DeviceAuthThrottle } from "./device-auth-throttle.js";
import { DeviceCertificateService } from "./device-certificates.js";
import type { DeviceCertificateAuthority } from "./device-certs.js";
import { DeviceFrameService } from "./device-frame-service.js";
import { DeviceService } from "./device-service.js";
import type { ModelLookup } from "./ports.js";

/** The fleet: devices and their secrets, deployments and bundles, desired state, latest frames. */
export interface Fleet {
  deviceAuth: DeviceAuth;
  desired: DesiredSync;
  deployments: DeploymentService;
  devices: DeviceService;
  deviceFrames: DeviceFrameService;
  /** client certificates issued to devices, recorded and revocable */
  deviceCertificates: DeviceCertificateService;
}

export function createFleet(deps: {
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  urls: HubUrls;
  projects: ProjectService;
  /** the model versions deployments bundle (registry) */
  models: ModelLookup;
  log: Logger;
  /** failed device authentications: limits and lockouts */
  throttle: DeviceThrottleConfig;
  /** the hub's certificates; `deviceCa` is null while the embedded broker takes no client certificates */
  tls: { readonly deviceCa: DeviceCertificateAuthority | null };
}): Fleet {
  const { db, blobs, urls, projects } = deps;
  const desired = new DesiredSync(db, urls, deps.log);
  const deployments = new DeploymentService(db, blobs, projects, deps.models, desired);
  const deviceAuth = new DeviceAuth(db, new DeviceAuthThrottle({ db, config: deps.throttle, log: deps.log }));
  const devices = new DeviceService(db, projects, deployments, desired, urls, deviceAuth);
  return {
    deviceAuth,
    desired,
    deployments,
    devices,
    deviceFrames: new DeviceFrameService(db),
    deviceCertificates: new DeviceCertificateService(db, () => deps.tls.deviceCa, devices),
  };
}
