import type { Migration, MigrationProvider } from "kysely";
import * as initial from "./0001-initial.js";
import * as datasets from "./0002-datasets.js";
import * as trainingRegistry from "./0003-training-registry.js";
import * as people from "./0004-people.js";
import * as incidentClips from "./0005-incident-clips.js";
import * as eventListIndex from "./0006-event-list-index.js";
import * as eventDelivery from "./0007-event-delivery.js";
import * as deviceLifecycle from "./0008-device-lifecycle.js";
import * as queryIndexes from "./0009-query-indexes.js";
import * as replicas from "./0010-replicas.js";
import * as ingestWriteCost from "./0011-ingest-write-cost.js";
import * as auditChain from "./0012-audit-chain.js";
import * as authLockouts from "./0013-auth-lockouts.js";
import * as blobIntegrity from "./0014-blob-integrity.js";
import * as retention from "./0015-retention.js";
import * as deviceCertificates from "./0016-device-certificates.js";
import * as bundleSigning from "./0017-bundle-signing.js";
import * as bundleTargets from "./0018-bundle-targets.js";
import * as deviceRetire from "./0019-device-retire.js";
import * as deviceConfig from "./0020-device-config.js";
import * as gateEvidence from "./0021-gate-evidence.js";
import * as telemetryHistory from "./0022-telemetry-history.js";
import * as rollouts from "./0023-rollouts.js";
import * as shadowAgreement from "./0024-shadow-agreement.js";
import * as backtests from "./0025-backtests.js";
import * as rolloutNotifications from "./0026-rollout-notifications.js";
import * as drift from "./0027-drift.js";
import * as modelNotifications from "./0028-model-notifications.js";
import * as federation from "./0029-federation.js";
import * as siteRollouts from "./0030-site-rollouts.js";
import * as userSites from "./0031-user-sites.js";
import * as siteSamples from "./0032-site-samples.js";
import * as projectReferences from "./0033-project-references.js";
import * as siteRolloutCommands from "./0034-site-rollout-commands.js";

/**
 * Every migration, keyed by the name recorded in `kysely_migration`, in the order they run.
 *
 * Append-only: a released migration is never edited or renamed (a database records the name,
 * and a renamed one would run again); a change is a new file and a new line here. Names sort in
 * the order they run. Column types are ones SQLite and PostgreSQL both accept. Imported statically
 * rather than read from a folder, so the hub still migrates when bundled into one file.
 */
export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  "0001_initial": initial,
  "0002_datasets": datasets,
  "0003_training_registry": trainingRegistry,
  "0004_people": people,
  "0005_incident_clips": incidentClips,
  "0006_event_list_index": eventListIndex,
  "0007_event_delivery": eventDelivery,
  "0008_device_lifecycle": deviceLifecycle,
  "0009_query_indexes": queryIndexes,
  "0010_replicas": replicas,
  "0011_ingest_write_cost": ingestWriteCost,
  "0012_audit_chain": auditChain,
  "0013_auth_lockouts": authLockouts,
  "0014_blob_integrity": blobIntegrity,
  "0015_retention": retention,
  "0016_device_certificates": deviceCertificates,
  "0017_bundle_signing": bundleSigning,
  "0018_bundle_targets": bundleTargets,
  "0019_device_retire": deviceRetire,
  "0020_device_config": deviceConfig,
  "0021_gate_evidence": gateEvidence,
  "0022_telemetry_history": telemetryHistory,
  "0023_rollouts": rollouts,
  "0024_shadow_agreement": shadowAgreement,
  "0025_backtests": backtests,
  "0026_rollout_notifications": rolloutNotifications,
  "0027_drift": drift,
  "0028_model_notifications": modelNotifications,
  "0029_federation": federation,
  "0030_site_rollouts": siteRollouts,
  "0031_user_sites": userSites,
  "0032_site_samples": siteSamples,
  "0033_project_references": projectReferences,
  "0034_site_rollout_commands": siteRolloutCommands,
});

/** Static provider for Kysely's `Migrator`: no directory has to exist at run time. */
export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...migrations }),
};
