import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { DeviceThrottleConfig } from "../config/device-throttle-config.js";
import type { RolloutConfig } from "../config/rollout-config.js";
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
import { DeviceLifecycle } from "./device-lifecycle.js";
import { DeviceService } from "./device-service.js";
import type { ModelLookup } from "./ports.js";
import type { SigningService } from "./signing-service.js";

/** The fleet: devices and their secrets, deployments and bundles, desired state, latest frames. */
export interface Fleet {
  deviceAuth: DeviceAuth;
  desired: DesiredSync;
  deployments: DeploymentService;
  devices: DeviceService;
  deviceFrames: DeviceFrameService;
  /** client certificates issued to devices, recorded and revocable */
  deviceCertificates: DeviceCertificateService;
  /** edits, tag changes, retirement and deletion of devices */
  deviceLifecycle: DeviceLifecycle;
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
  /** signs bundles, downgrade grants and trust roots (docs/bundles.md) */
  signing: SigningService;
  /** how a deployment's downloads are spread (defaults when omitted) */
  rollout?: RolloutConfig;
}): Fleet {
  const { db, blobs, urls, projects } = deps;
  const desired = new DesiredSync(db, urls, deps.log, deps.rollout);
  const deployments = new DeploymentService(db, blobs, projects, deps.models, desired, deps.signing);
  const deviceAuth = new DeviceAuth(db, new DeviceAuthThrottle({ db, config: deps.throttle, log: deps.log }));
  const devices = new DeviceService(db, projects, deployments, desired, urls, deviceAuth);
  return {
    deviceAuth,
    desired,
    deployments,
    devices,
    deviceFrames: new DeviceFrameService(db),
    deviceCertificates: new DeviceCertificateService(db, () => deps.tls.deviceCa, devices),
    deviceLifecycle: new DeviceLifecycle(db, devices, deployments, desired),
  };
}

/**
 * After a project's incident rule changed: every deployment that still decides what a device
 * runs is bundled anew with the new rule (DeploymentService.redeployForRule), logged either way.
 */
export function redeployForRule(
  deployments: DeploymentService,
  projectId: string,
  log: { info(o: object, msg: string): void; error(o: object, msg: string): void },
): void {
  deployments
    .redeployForRule(projectId)
    .then(({ ok, failed }) => {
      if (ok.length || failed.length) {
        log.info({ projectId, deployments: ok.map((d) => d.id), failed }, "incident rule changed: bundles made anew");
      }
    })
    .catch((err: unknown) => log.error({ err, projectId }, "incident rule changed: bundles could not be made anew"));
}
