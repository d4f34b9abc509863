import type { FastifyInstance } from "fastify";
import type { Backtests } from "./backtest/backtest.js";
import type { BlobStore } from "./blobstore/blob-store.js";
import type { HubConfig } from "./config.js";
import type { MetadataStore } from "./db/open-database.js";
import type { DeviceCertificateAuthority } from "./fleet/device-certs.js";
import type { RouteCatalog } from "./http/route-catalog.js";
import type { EmbeddedBroker } from "./ingest/embedded-broker.js";
import type { Ingest } from "./ingest/ingest.js";
import type { MosquittoDynsec } from "./ingest/mosquitto-dynsec.js";
import type { NotificationDispatcher } from "./notify/notification-dispatcher.js";
import type { Notifier } from "./notify/notifier.js";
import type { ModelChecker } from "./registry/model-service.js";
import type { TelemetryHistory } from "./telemetry/telemetry-history.js";
import type { Training } from "./training/training.js";

export interface HubDeps {
  /** for KENSA_ADMIN_TOKEN and KENSA_LOG_LEVEL; process.env by default */
  env?: Record<string, string | undefined>;
  /** replace notifiers by type (e.g. another e-mail transport); email and webhook by default */
  notifiers?: Notifier[];
  /** ONNX validation; @kensa/vision's checkModelAgainstManifest by default */
  checkModel?: ModelChecker;
  /** ms since the epoch placing telemetry in its minute of history; Date.now by default (tests) */
  telemetryClock?: () => number;
}

export interface HubAddresses {
  httpUrl: string;
  mqttUrl: string;
}

export interface Hub {
  /** the Fastify app, routes registered, not listening (use inject() before start()) */
  app: FastifyInstance;
  config: HubConfig;
  adminToken: string;
  /** the password of the user `admin` when this start generated it (first start), else null */
  initialAdminPassword: string | null;
  /** the metadata store (SQLite or PostgreSQL) */
  store: MetadataStore;
  blobs: BlobStore;
  /** what arrives over MQTT, and its counters */
  ingest: Ingest;
  /** devices' telemetry as one point per minute (`telemetry`) */
  telemetry: TelemetryHistory;
  /** the embedded broker once started; null with an external broker */
  readonly broker: EmbeddedBroker | null;
  /** the manager of device accounts on an external Mosquitto (`mqtt.dynsec`); null otherwise */
  dynsec: MosquittoDynsec | null;
  /** every route the hub serves, with its declared access */
  routes: RouteCatalog;
  /** runs, the job queue, evaluations, the gate, the registry, training settings and triggers */
  training: Training;
  /** backtests: the service (reports computed here) and this hub's backtest worker */
  backtests: Backtests;
  /** sends planned notifications */
  dispatcher: NotificationDispatcher;
  /** the CA of device client certificates (`mqtt.embedded.tls.clientCertificates`); null otherwise */
  deviceCa: DeviceCertificateAuthority | null;
  /** binds HTTP and the embedded broker, connects the hub's MQTT client, starts notifications */
  start(): Promise<HubAddresses>;
  /** reads the certificate files again (SIGHUP); new connections use them */
  reloadTls(): Promise<void>;
  /** after start(): listeners other machines reach without TLS ("HTTP on 0.0.0.0") */
  readonly plainListeners: string[];
  close(): Promise<void>;
  /** while close() runs, the part of the hub it is waiting for ("http", "database", …), else null */
  readonly closing: string | null;
}
