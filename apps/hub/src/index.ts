export type { BlobInfo, BlobStore } from "./blobstore/blob-store.js";
export { FsBlobStore } from "./blobstore/fs/fs-blob-store.js";
export { type HubConfig, type HubConfigInput, HubConfigSchema, loadHubConfig, parseHubConfig } from "./config.js";
export { deviceCaFiles } from "./http/hub-tls.js";
export { createHub, type Hub, type HubAddresses, type HubDeps } from "./hub.js";
export { DeviceCertificateAuthority, writeIssuedCertificate } from "./ingest/device-certs.js";
export type { BrokerCounters } from "./ingest/embedded-broker.js";
export type { Delivery, Notifier } from "./notify/notifier.js";
export { PermanentDeliveryError } from "./notify/notifier.js";
