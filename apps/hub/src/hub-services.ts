import type { BlobStore } from "./blobstore/blob-store.js";
import type { EventBus, HubEventMap } from "./bus/event-bus.js";
import type { Datasets } from "./datasets/datasets.js";
import type { MetadataStore } from "./db/open-database.js";
import type { DeploymentService } from "./fleet/deployment-service.js";
import type { DesiredSync } from "./fleet/desired-sync.js";
import type { DeviceAuth } from "./fleet/device-auth.js";
import type { DeviceFrameService } from "./fleet/device-frame-service.js";
import type { DeviceService } from "./fleet/device-service.js";
import type { HubUrls } from "./http/hub-urls.js";
import type { RouteCatalog } from "./http/route-catalog.js";
import type { ClipService } from "./incidents/clip-service.js";
import type { EventService } from "./incidents/event-service.js";
import type { IncidentService } from "./incidents/incident-service.js";
import type { VerdictService } from "./incidents/verdict-service.js";
import type { EmbeddedBroker } from "./ingest/embedded-broker.js";
import type { Ingest } from "./ingest/ingest.js";
import type { NotificationDispatcher } from "./notify/notification-dispatcher.js";
import type { NotificationService } from "./notify/notification-service.js";
import type { ApiTokenService } from "./people/api-token-service.js";
import type { AuditLog } from "./people/audit-log.js";
import type { SessionService } from "./people/session-service.js";
import type { UserService } from "./people/user-service.js";
import type { ProjectService } from "./projects/project-service.js";
import type { ModelService } from "./registry/model-service.js";
import type { StatsService } from "./system/stats-service.js";
import type { Training } from "./training/training.js";

/** The hub's parts, for routes, the CLI and tests. */
export interface HubServices {
  store: MetadataStore;
  blobs: BlobStore;
  urls: HubUrls;
  deviceAuth: DeviceAuth;
  projects: ProjectService;
  devices: DeviceService;
  models: ModelService;
  deployments: DeploymentService;
  desired: DesiredSync;
  events: EventService;
  incidents: IncidentService;
  verdicts: VerdictService;
  notifications: NotificationService;
  dispatcher: NotificationDispatcher;
  ingest: Ingest;
  stats: StatsService;
  /** samples, labels, snapshots, imports and exports */
  datasets: Datasets;
  /** runs, the job queue, evaluations, the gate, the registry, training settings and triggers */
  training: Training;
  /** users, sessions, API tokens, and every route with its declared permission */
  auth: { users: UserService; sessions: SessionService; tokens: ApiTokenService; routes: RouteCatalog };
  /** who did what; `audit.recordRequest(req, "model.approve", { type: "model", id })` */
  audit: AuditLog;
  /** incidents created and updated, for live views (the console's SSE stream) */
  bus: EventBus<HubEventMap>;
  /** the latest frame each device uploaded */
  deviceFrames: DeviceFrameService;
  /** incident clips (video around the incident frame) uploaded by devices */
  clips: ClipService;
  /** the embedded broker, when enabled and started */
  broker: EmbeddedBroker | null;
  /** whether the hub's MQTT client is connected now */
  mqttConnected(): boolean;
}
