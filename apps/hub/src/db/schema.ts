import type { AuthLockoutsTable } from "./schema/auth-lockouts.js";
import type { BundleFilesTable, BundleSelfTestsTable, DeploymentTargetsTable } from "./schema/bundle-targets.js";
import type { DatasetImportsTable, LabelRevisionsTable, SamplesTable, SnapshotsTable } from "./schema/datasets.js";
import type { DeviceCertificatesTable } from "./schema/device-certificates.js";
import type { DeviceConfigDeliveryTable, DeviceConfigRevisionsTable } from "./schema/device-config.js";
import type { DeploymentsTable, DeviceFramesTable, DevicesTable, ProjectsTable } from "./schema/fleet.js";
import type {
  EventClipsTable,
  EventMediaTable,
  EventsTable,
  IncidentsTable,
  NotificationsTable,
  RejectedEventsTable,
  VerdictsTable,
} from "./schema/incidents.js";
import type { BlobProblemsTable, EarlyMediaTable } from "./schema/integrity.js";
import type {
  ApprovalsTable,
  BundlesTable,
  EvaluationsTable,
  GateReportsTable,
  ModelVersionsTable,
} from "./schema/models.js";
import type { ApiTokensTable, AuditHeadTable, AuditLogTable, SessionsTable, UsersTable } from "./schema/people.js";
import type { BusPayloadsTable, HubLeasesTable, LoginFailuresTable } from "./schema/replicas.js";
import type { RolloutsTable } from "./schema/rollouts.js";
import type { TelemetryPointsTable } from "./schema/telemetry.js";
import type { JobsTable, TrainingRunsTable, TrainingSettingsTable } from "./schema/training.js";

export type * from "./schema/auth-lockouts.js";
export type * from "./schema/bundle-targets.js";
export type * from "./schema/datasets.js";
export type * from "./schema/device-certificates.js";
export type * from "./schema/device-config.js";
export type * from "./schema/fleet.js";
export type * from "./schema/incidents.js";
export type * from "./schema/integrity.js";
export type * from "./schema/models.js";
export type * from "./schema/people.js";
export type * from "./schema/replicas.js";
export type * from "./schema/telemetry.js";
export type * from "./schema/training.js";

/**
 * Row shapes of the metadata store. Dialect-neutral on purpose: JSON is stored as text, times
 * as ISO-8601 text (which sorts correctly as text), booleans as 0/1 integers.
 */
export interface HubDatabase {
  projects: ProjectsTable;
  devices: DevicesTable;
  device_certificates: DeviceCertificatesTable;
  device_config_revisions: DeviceConfigRevisionsTable;
  device_config_delivery: DeviceConfigDeliveryTable;
  model_versions: ModelVersionsTable;
  bundles: BundlesTable;
  deployments: DeploymentsTable;
  deployment_targets: DeploymentTargetsTable;
  bundle_files: BundleFilesTable;
  bundle_self_tests: BundleSelfTestsTable;
  events: EventsTable;
  rejected_events: RejectedEventsTable;
  event_media: EventMediaTable;
  event_clips: EventClipsTable;
  incidents: IncidentsTable;
  verdicts: VerdictsTable;
  notifications: NotificationsTable;
  samples: SamplesTable;
  label_revisions: LabelRevisionsTable;
  snapshots: SnapshotsTable;
  dataset_imports: DatasetImportsTable;
  jobs: JobsTable;
  training_runs: TrainingRunsTable;
  evaluations: EvaluationsTable;
  gate_reports: GateReportsTable;
  approvals: ApprovalsTable;
  training_settings: TrainingSettingsTable;
  users: UsersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  audit_head: AuditHeadTable;
  device_frames: DeviceFramesTable;
  login_failures: LoginFailuresTable;
  auth_lockouts: AuthLockoutsTable;
  hub_leases: HubLeasesTable;
  bus_payloads: BusPayloadsTable;
  early_media: EarlyMediaTable;
  blob_problems: BlobProblemsTable;
  telemetry_points: TelemetryPointsTable;
  rollouts: RolloutsTable;
  shadow_agreement: import("./schema/shadow.js").ShadowAgreementTable;
  backtests: import("./schema/backtests.js").BacktestsTable;
  rollout_notifications: import("./schema/rollout-notifications.js").RolloutNotificationsTable;
  drift_alerts: import("./schema/drift.js").DriftAlertsTable;
  sites: import("./schema/federation.js").SitesTable;
  federation_cursors: import("./schema/federation.js").FederationCursorsTable;
  federation_models: import("./schema/federation.js").FederationModelsTable;
  site_rollouts: import("./schema/site-rollouts.js").SiteRolloutsTable;
  federation_rollouts: import("./schema/site-rollouts.js").FederationRolloutsTable;
  site_rollout_commands: import("./schema/site-rollout-commands.js").SiteRolloutCommandsTable;
  federation_rollout_commands: import("./schema/site-rollout-commands.js").FederationRolloutCommandsTable;
  project_references: import("./schema/references.js").ProjectReferencesTable;
  model_notifications: import("./schema/model-notifications.js").ModelNotificationsTable;
}
