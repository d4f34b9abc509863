export { type FrameReader, replayFrames } from "./backtest/backtest-replay.js";
export { backtestError, backtestReport } from "./backtest/backtest-report.js";
export type { BlobInfo, BlobStore } from "./blobstore/blob-store.js";
export { FsBlobStore } from "./blobstore/fs/fs-blob-store.js";
export { type HubConfig, type HubConfigInput, HubConfigSchema, loadHubConfig, parseHubConfig } from "./config.js";
export { buildExport } from "./datasets/export-build.js";
export { defaultFormats } from "./datasets/formats/format-registry.js";
export { prepareImport } from "./datasets/import-prepare.js";
export { DeviceCertificateAuthority, deviceCaFiles, writeIssuedCertificate } from "./fleet/device-certs.js";
export { issueDeviceCertificateOffline } from "./fleet/device-certs-offline.js";
export { createDeviceCsr } from "./fleet/device-csr.js";
export { createHub, type Hub, type HubAddresses, type HubDeps } from "./hub.js";
export type { BrokerCounters } from "./ingest/embedded-broker.js";
export { newWorkerToken } from "./jobs/worker-tokens.js";
export type { Delivery, Notifier } from "./notify/notifier.js";
export { PermanentDeliveryError } from "./notify/notifier.js";
export { type OfflineAuditSource, verifyAuditOffline } from "./people/audit-offline.js";
export {
  type EvaluationInput,
  evaluateModel,
  type StoredEvaluationMetrics,
} from "./registry/evaluation/evaluate-model.js";
export { evaluationError } from "./registry/evaluation/evaluation-service.js";
export {
  type BlobMigrateReport,
  describeBlobs,
  migrateBlobsOffline,
  readBlobsConfig,
} from "./system/blob-migrate-offline.js";
export { type FsckReport, fsckClean, fsckOffline } from "./system/fsck-offline.js";
export { sealConfigSecret } from "./system/seal-secret.js";
export type { TrainerExit, TrainerProcess } from "./training/trainer.js";
export { trainerFailure } from "./training/trainer-failure.js";
export { TrainerRegistry } from "./training/trainer-registry.js";
