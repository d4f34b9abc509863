/**
 * The one error catalog. Codes are stable: never renamed, never reused. Every code is
 * documented in docs/errors.md (a test fails when one is missing).
 */
export const errorCatalog = {
  KENSA_ERR_VALIDATION: { status: 400, message: "The request does not match its schema" },
  KENSA_ERR_CONFIG_INVALID: { status: 400, message: "The configuration is invalid" },
  KENSA_ERR_UNAUTHORIZED: { status: 401, message: "Missing or invalid credentials" },
  KENSA_ERR_FORBIDDEN: { status: 403, message: "These credentials may not do this" },
  KENSA_ERR_NOT_FOUND: { status: 404, message: "No such route" },
  KENSA_ERR_PROJECT_NOT_FOUND: { status: 404, message: "No such project" },
  KENSA_ERR_PROJECT_EXISTS: { status: 409, message: "A project with this slug already exists" },
  KENSA_ERR_DEVICE_NOT_FOUND: { status: 404, message: "No such device" },
  KENSA_ERR_DEVICE_EXISTS: { status: 409, message: "A device with this id already exists" },
  KENSA_ERR_MODEL_NOT_FOUND: { status: 404, message: "No such model version" },
  KENSA_ERR_MODEL_INVALID_ONNX: { status: 422, message: "The uploaded file is not a loadable ONNX model" },
  KENSA_ERR_MODEL_MANIFEST_MISMATCH: {
    status: 422,
    message: "The ONNX model does not match its manifest (input shape or number of labels)",
  },
  KENSA_ERR_MANIFEST_INVALID: { status: 422, message: "The model manifest is invalid" },
  KENSA_ERR_UPLOAD_TOO_LARGE: { status: 413, message: "The upload exceeds the configured size limit" },
  KENSA_ERR_MQTT_PACKET_TOO_LARGE: {
    status: 413,
    message: "An MQTT packet is larger than the broker reads (limits.mqttPacketBytes); the connection was closed",
  },
  KENSA_ERR_EVENT_TOO_LARGE: {
    status: 413,
    message: "An event or one of its fields exceeds its size budget; it was kept as rejected",
  },
  KENSA_ERR_IMAGE_TOO_LARGE: {
    status: 413,
    message: "The image's dimensions exceed the pixel budget (limits.imagePixels); it was not decoded",
  },
  KENSA_ERR_ARCHIVE_BOMB: {
    status: 413,
    message: "An archive entry inflates more than the accepted compression ratio (limits.archiveEntryRatio)",
  },
  KENSA_ERR_UPLOAD_MISSING_PART: { status: 400, message: "A required part of the multipart upload is missing" },
  KENSA_ERR_BLOB_NOT_FOUND: { status: 404, message: "No such blob" },
  KENSA_ERR_BUNDLE_NOT_FOUND: { status: 404, message: "No such bundle" },
  KENSA_ERR_DEPLOYMENT_NO_TARGETS: { status: 422, message: "The deployment matches no devices" },
  KENSA_ERR_EVENT_NOT_FOUND: { status: 404, message: "No such event" },
  KENSA_ERR_MEDIA_INVALID: { status: 422, message: "The media is not a decodable image or a supported video" },
  KENSA_ERR_REFERENCE_MISSING: {
    status: 422,
    message: "The model compares frames with a golden reference and has none for this frame's reference key",
  },
  KENSA_ERR_REFERENCE_INVALID: {
    status: 422,
    message: "A reference image does not decode, does not match its sha256 or is not at the model's input size",
  },
  KENSA_ERR_REFERENCE_NOT_FOUND: { status: 404, message: "The project has no golden reference of that key" },
  KENSA_ERR_RANGE_NOT_SATISFIABLE: { status: 416, message: "The requested byte range lies outside the content" },
  KENSA_ERR_INCIDENT_NOT_FOUND: { status: 404, message: "No such incident" },
  KENSA_ERR_VERDICT_LABELS_REQUIRED: { status: 422, message: "A relabel verdict needs corrected labels" },
  KENSA_ERR_VERDICT_UNKNOWN_LABEL: { status: 422, message: "A corrected label is not in the project's label schema" },
  KENSA_ERR_PORT_IN_USE: { status: 500, message: "A port the hub needs is already taken" },
  KENSA_ERR_BUNDLE_HASH_MISMATCH: { status: 422, message: "A downloaded bundle or model does not match its sha256" },
  KENSA_ERR_BUNDLE_DOWNLOAD_FAILED: { status: 502, message: "The bundle could not be downloaded" },
  KENSA_ERR_BUNDLE_LOAD_FAILED: { status: 422, message: "The bundle's model could not be loaded or warmed up" },
  KENSA_ERR_BUNDLE_UNSIGNED: { status: 422, message: "The bundle carries no signature by a key the device trusts" },
  KENSA_ERR_BUNDLE_SIGNATURE_INVALID: {
    status: 422,
    message: "The bundle's signature does not verify: its manifest was changed or the signature forged",
  },
  KENSA_ERR_BUNDLE_KEY_UNKNOWN: { status: 422, message: "The bundle is signed by a key the device does not trust" },
  KENSA_ERR_BUNDLE_KEY_RETIRED: { status: 422, message: "The bundle is signed by a retired key" },
  KENSA_ERR_BUNDLE_ROLLBACK: {
    status: 422,
    message: "The bundle is older than the one the pipeline runs and no signed downgrade grant allows it",
  },
  KENSA_ERR_AGENT_RELEASE_INVALID: {
    status: 422,
    message: "An agent release is malformed, unsigned, not signed by trusted keys, or a file does not match its hash",
  },
  KENSA_ERR_AGENT_RELEASE_ROLLBACK: {
    status: 422,
    message: "The agent release is older than the agent version the device runs",
  },
  KENSA_ERR_AGENT_RELEASE_NOT_FOUND: { status: 404, message: "No agent release with this id" },
  KENSA_ERR_AGENT_UPDATE_FAILED: {
    status: 500,
    message: "The new agent version did not come up healthy; the device went back to the previous one",
  },
  KENSA_ERR_TRUST_STATEMENT_INVALID: {
    status: 422,
    message: "A key-rotation statement is not signed by the keys the device trusts; it was ignored",
  },
  KENSA_ERR_SIGNING_KEY_INSECURE: {
    status: 500,
    message: "The hub's signing key file is readable or writable by others than its owner",
  },
  KENSA_ERR_SIGNING_KEY_UNTRUSTED: {
    status: 500,
    message: "The hub's signing key is not in its current trust root",
  },
  KENSA_ERR_SIGNING_FAILED: { status: 502, message: "The signer could not sign, or its signature does not verify" },
  KENSA_ERR_SIGNING_ROTATE_UNSUPPORTED: {
    status: 409,
    message: "The hub signs through a signer command and no signing.rotateTo names the next one",
  },
  KENSA_ERR_SIGNING_KEY_NOT_FOUND: { status: 404, message: "No such signing key in the trust root" },
  KENSA_ERR_SIGNING_KEY_ACTIVE: {
    status: 409,
    message: "The hub signs with this key (or it is the last one): rotate before retiring it",
  },
  KENSA_ERR_BUNDLE_SELF_TEST_FAILED: {
    status: 422,
    message: "The bundle's model gave outputs outside its golden frames' tolerances on the device",
  },
  KENSA_ERR_DEPLOYMENT_PRECISION_UNAVAILABLE: {
    status: 422,
    message: "The deployment asks for a precision the model version has no file for",
  },
  KENSA_ERR_MQTT_PAYLOAD_INVALID: { status: 400, message: "An MQTT payload does not match its schema" },
  KENSA_ERR_SOURCE_FAILED: { status: 500, message: "A frame source failed" },
  KENSA_ERR_INTERNAL: { status: 500, message: "Internal error" },
  KENSA_ERR_INGEST_STORAGE_FAILED: {
    status: 503,
    message: "The hub's database failed to store events; they stay on the devices until it recovers",
  },
  KENSA_ERR_BROKER_UNREACHABLE: { status: 503, message: "The hub is not connected to its MQTT broker" },
  KENSA_ERR_EVENT_REJECTED: { status: 422, message: "The database refused an event for good; it was kept as rejected" },
  KENSA_ERR_TRAINER_JOB_INVALID: { status: 422, message: "The training job spec is invalid" },
  KENSA_ERR_TRAINER_DATA_INVALID: { status: 422, message: "A training image, mask or label is missing or unreadable" },
  KENSA_ERR_TRAINER_FAILED: { status: 500, message: "Training failed (the loss diverged or the trainer crashed)" },
  KENSA_ERR_TRAINER_EXPORT_FAILED: { status: 500, message: "The trained model could not be exported or quantized" },
  KENSA_ERR_TRAINER_CANCELLED: { status: 409, message: "The training run was cancelled" },
  KENSA_ERR_SAMPLE_NOT_FOUND: { status: 404, message: "No such sample" },
  KENSA_ERR_SNAPSHOT_NOT_FOUND: { status: 404, message: "No such snapshot" },
  KENSA_ERR_SNAPSHOT_EMPTY: { status: 422, message: "The snapshot would contain no labeled sample" },
  KENSA_ERR_IMPORT_NOT_FOUND: { status: 404, message: "No such dataset import" },
  KENSA_ERR_EXPORT_NOT_FOUND: { status: 404, message: "No such dataset export" },
  KENSA_ERR_DATASET_EXPORT_INTERRUPTED: {
    status: 500,
    message: "The export was claimed by workers again and again and never finished",
  },
  KENSA_ERR_EXPORT_NOT_READY: {
    status: 409,
    message: "The dataset export has not finished (or it failed); its archive cannot be downloaded",
  },
  KENSA_ERR_LABEL_INVALID: { status: 422, message: "The label does not fit the project or the image" },
  KENSA_ERR_ARCHIVE_INVALID: { status: 422, message: "The upload is not a readable .zip, .tar or .tar.gz archive" },
  KENSA_ERR_DATASET_UNSAFE_PATH: { status: 422, message: "An archive entry has an absolute or escaping path" },
  KENSA_ERR_DATASET_LINK: { status: 422, message: "An archive entry is a link or special file" },
  KENSA_ERR_DATASET_IMAGE_INVALID: { status: 422, message: "An imported image is not a decodable JPEG or PNG" },
  KENSA_ERR_DATASET_IMAGE_MISSING: { status: 422, message: "An annotation names an image the archive lacks" },
  KENSA_ERR_DATASET_UNKNOWN_CLASS: { status: 422, message: "An imported class is not in the project's labels" },
  KENSA_ERR_DATASET_ANNOTATION_INVALID: {
    status: 422,
    message: "An annotation cannot be read or does not fit its image",
  },
  KENSA_ERR_DATASET_IMPORT_ABORTED: { status: 422, message: "A strict import had failed items; nothing was imported" },
  KENSA_ERR_DATASET_IMPORT_INTERRUPTED: {
    status: 500,
    message: "The hub stopped during the import; nothing was imported",
  },
  KENSA_ERR_SOURCE_STALLED: { status: 504, message: "A frame source sent no frame within its stall timeout" },
  KENSA_ERR_SOURCE_RESTART_BUDGET_EXHAUSTED: {
    status: 503,
    message: "A frame source failed more often than its restart budget allows",
  },
  KENSA_ERR_SOURCE_NOT_FOUND: { status: 404, message: "No such source on this agent, or it does not accept frames" },
  KENSA_ERR_FFMPEG_NOT_FOUND: { status: 500, message: "The ffmpeg executable cannot be run" },
  KENSA_ERR_MEDIA_UNSUPPORTED_TYPE: { status: 415, message: "Only JPEG and PNG images are accepted" },
  KENSA_ERR_PIPELINE_SATURATED: { status: 429, message: "The pipeline's frame queue is full" },
  KENSA_ERR_PIPELINE_NOT_READY: { status: 503, message: "The pipeline has no model loaded yet" },
  KENSA_ERR_AGENT_PORT_IN_USE: { status: 500, message: "The agent's status port is not available" },
  KENSA_ERR_RUN_NOT_FOUND: { status: 404, message: "No such training run" },
  KENSA_ERR_RUN_INVALID: { status: 422, message: "The training run cannot be started as asked" },
  KENSA_ERR_TILING_INVALID: { status: 422, message: "The tiling asked for cannot be used with this project or input" },
  KENSA_ERR_RUN_DATA_INSUFFICIENT: {
    status: 422,
    message: "The snapshot gives the trainer no training or no validation sample",
  },
  KENSA_ERR_RUN_NOT_CANCELLABLE: { status: 409, message: "The training run has already finished" },
  KENSA_ERR_RUN_INTERRUPTED: { status: 500, message: "The hub stopped while the run was training" },
  KENSA_ERR_TRAINER_UNKNOWN: { status: 422, message: "No trainer of this name is configured" },
  KENSA_ERR_TRAINER_START_FAILED: { status: 500, message: "The trainer program could not be started" },
  KENSA_ERR_TRAINER_OUTPUT_INVALID: {
    status: 422,
    message: "The trainer finished but its model, manifest or metrics are missing or invalid",
  },
  KENSA_ERR_EVALUATION_NOT_FOUND: { status: 404, message: "No such evaluation" },
  KENSA_ERR_EVALUATION_NO_TEST_SPLIT: { status: 422, message: "The snapshot has no test sample to evaluate on" },
  KENSA_ERR_EVALUATION_FAILED: { status: 422, message: "The model could not be evaluated" },
  KENSA_ERR_GATE_NOT_FOUND: { status: 404, message: "The model version has no gate report yet" },
  KENSA_ERR_MODEL_STAGE_CONFLICT: { status: 409, message: "The model version cannot move to this stage from its own" },
  KENSA_ERR_MODEL_NOT_DEPLOYABLE: { status: 409, message: "A rejected model version cannot be deployed" },
  KENSA_ERR_SNAPSHOT_PROJECT_MISMATCH: { status: 422, message: "The snapshot belongs to another project" },
  KENSA_ERR_JOB_NOT_FOUND: { status: 404, message: "No such job" },
  KENSA_ERR_CRON_INVALID: { status: 422, message: "The cron expression is invalid" },
  KENSA_ERR_LOGIN_THROTTLED: { status: 429, message: "Too many failed sign-ins for this user from this address" },
  KENSA_ERR_CSRF_HEADER_MISSING: {
    status: 403,
    message: "A cookie-authenticated write must carry the header x-kensa-csrf: 1",
  },
  KENSA_ERR_USER_NOT_FOUND: { status: 404, message: "No such user" },
  KENSA_ERR_USER_EXISTS: { status: 409, message: "A user with this username already exists" },
  KENSA_ERR_LAST_ADMIN: { status: 409, message: "The change would leave no enabled admin user" },
  KENSA_ERR_TOKEN_NOT_FOUND: { status: 404, message: "No such API token" },
  KENSA_ERR_INCIDENT_ALREADY_DECIDED: { status: 409, message: "The incident already has a verdict" },
  KENSA_ERR_DEVICE_FRAME_NOT_FOUND: { status: 404, message: "The device has not uploaded a frame yet" },
  KENSA_ERR_INFERENCE_SESSION_FAILED: {
    status: 500,
    message: "The model's inference session failed at run time; the agent restarts it",
  },
  KENSA_ERR_INFERENCE_RESTART_BUDGET_EXHAUSTED: {
    status: 500,
    message: "The inference session failed more often than its restart budget allows",
  },
  KENSA_ERR_EVENTS_DROPPED: { status: 507, message: "The agent deleted unsent events to survive a full disk" },
  KENSA_ERR_CLIP_FAILED: { status: 500, message: "ffmpeg could not write an incident clip" },
  KENSA_ERR_CLIP_NOT_FOUND: { status: 404, message: "No such incident clip on this agent" },
  KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE: {
    status: 503,
    message: "The MQTT broker that keeps device accounts could not be reached or refused the change",
  },
  KENSA_ERR_BROKER_ACCOUNT_MISSING: {
    status: 409,
    message: "The broker lost this device's account; rotate the device's secret to restore it",
  },
  KENSA_ERR_PATTERN_UNSUPPORTED: {
    status: 400,
    message: "The pattern uses syntax the linear-time matcher lacks (backreferences, lookaround) or is too large",
  },
  KENSA_ERR_TLS_FILES: {
    status: 500,
    message: "A configured certificate or key file cannot be read, is not PEM, or does not belong with the other",
  },
  KENSA_ERR_SECRETS_KEY_MISSING: {
    status: 500,
    message: "Stored secrets are sealed with a secrets key the hub was not given",
  },
  KENSA_ERR_SECRETS_KEY_MISMATCH: {
    status: 500,
    message: "A stored secret does not open with the hub's secrets key (another key, or an edited value)",
  },
  KENSA_ERR_SECRETS_KEY_INVALID: { status: 500, message: "The secrets key file or variable is not valid" },
  KENSA_ERR_DEVICE_AUTH_THROTTLED: {
    status: 429,
    message: "Too many failed authentications for this device or from this address",
  },
  KENSA_ERR_AUDIT_CHAIN_BROKEN: {
    status: 409,
    message: "The audit log's hash chain is broken: an entry was deleted, changed, reordered or cut off",
  },
  KENSA_ERR_AUDIT_UNREADABLE: { status: 500, message: "The audit log or its anchor log could not be read" },
  KENSA_ERR_LEGAL_HOLD_NOT_FOUND: { status: 404, message: "No such legal hold" },
  KENSA_ERR_LEGAL_HOLD_TARGET_INVALID: {
    status: 422,
    message: "A legal hold must name a device or incident of the project (or nothing, for the project itself)",
  },
  KENSA_ERR_RETENTION_BUSY: { status: 409, message: "A retention run is already in progress on a hub replica" },
  KENSA_ERR_MEDIA_QUOTA_FULL: {
    status: 507,
    message: "An agent media file does not fit in media.quotaBytes, even after evicting the media it may replace",
  },
  KENSA_ERR_BLOB_CORRUPT: {
    status: 500,
    message: "The stored content does not match its sha256; it was quarantined and is not served",
  },
  KENSA_ERR_BLOB_DIGEST_MISMATCH: { status: 422, message: "The content does not hash to the sha256 it was sent for" },
  KENSA_ERR_BLOB_STORE_UNAVAILABLE: {
    status: 503,
    message: "The blob store (an S3 bucket) could not be reached or refused the request; nothing was changed",
  },
  KENSA_ERR_BLOB_MIGRATE_FAILED: {
    status: 500,
    message: "A blob migration left blobs uncopied (corrupt at the source or refused by the target)",
  },
  KENSA_ERR_EVENT_ID_INVALID: { status: 400, message: "The event id is not one a device could have made" },
  KENSA_ERR_EARLY_MEDIA_LIMIT: {
    status: 429,
    message: "Too much media from this device is waiting for events the hub has not received",
  },
  KENSA_ERR_DEVICE_CA_DISABLED: {
    status: 409,
    message:
      "The embedded broker takes no client certificates (mqtt.embedded.tls.clientCertificates is off), so the hub has no device CA",
  },
  KENSA_ERR_CSR_INVALID: {
    status: 422,
    message:
      "The certificate signing request is not PEM PKCS#10, its signature does not verify, or it names another device",
  },
  KENSA_ERR_DEVICE_REVOKED: { status: 409, message: "The device is revoked; rotate its secret to enable it again" },
  KENSA_ERR_DEVICE_CERTIFICATE_NOT_FOUND: {
    status: 404,
    message: "No certificate with this serial was issued to the device",
  },
  KENSA_ERR_DEVICE_RETIRED: {
    status: 409,
    message: "The device is retired: it can no longer be given credentials, certificates or deployments",
  },
  KENSA_ERR_DEVICE_NOT_RETIRED: {
    status: 409,
    message: "Only a retired device, or one that never connected, can be deleted; retire it first",
  },
  KENSA_ERR_FLAG_INVALID: { status: 400, message: "A command-line flag's value is not what the flag takes" },
  KENSA_ERR_FILE_NOT_FOUND: { status: 404, message: "A file named on the command line does not exist" },
  KENSA_ERR_FILE_UNREADABLE: { status: 400, message: "A file named on the command line cannot be read" },
  KENSA_ERR_FILE_JSON_INVALID: { status: 400, message: "A file named on the command line is not valid JSON" },
  KENSA_ERR_REFERENCE_AMBIGUOUS: { status: 400, message: "A name or slug matches more than one resource" },
  KENSA_ERR_DEPLOYMENT_NOT_FOUND: { status: 404, message: "No such deployment" },
  KENSA_ERR_SMS_GATEWAY_REJECTED: {
    status: 502,
    message: "The SMS gateway refused the message (HTTP 3xx or 4xx other than 408/429); it is not retried",
  },
  KENSA_ERR_SMS_GATEWAY_UNAVAILABLE: {
    status: 503,
    message: "The SMS gateway did not take the message (HTTP 5xx, 408, 429, timeout or no connection) on any attempt",
  },
  KENSA_ERR_DEVICE_CONFIG_INVALID: {
    status: 400,
    message: "The device config does not match its schema; nothing was stored or sent",
  },
  KENSA_ERR_DEVICE_CONFIG_REJECTED: {
    status: 422,
    message: "The agent refused a remote config it cannot apply and keeps running the previous one",
  },
  KENSA_ERR_DEVICE_CONFIG_FETCH_FAILED: {
    status: 502,
    message: "The agent could not fetch its remote config from the hub, or it did not match its sha256; it retries",
  },
  KENSA_ERR_TELEMETRY_RANGE_INVALID: {
    status: 400,
    message: "A telemetry history range is empty, reversed or asks for too many points",
  },
  KENSA_ERR_WORKER_TOKEN_INVALID: { status: 401, message: "Missing, unknown or revoked worker token" },
  KENSA_ERR_WORKER_LEASE_LOST: {
    status: 409,
    message: "This worker no longer holds the job (its lease ran out and the job was re-queued, or it ended)",
  },
  KENSA_ERR_ROLLOUT_NOT_FOUND: { status: 404, message: "No rollout with this id" },
  KENSA_ERR_ROLLOUT_STATE: {
    status: 409,
    message: "The rollout's state does not allow this action (e.g. resuming a completed rollout)",
  },
  KENSA_ERR_ROLLOUT_CONFLICT: {
    status: 409,
    message: "Another rollout of this pipeline is still running or paused on some of these devices",
  },
  KENSA_ERR_BACKTEST_NOT_FOUND: { status: 404, message: "No backtest with this id" },
  KENSA_ERR_BACKTEST_NO_FRAMES: {
    status: 422,
    message: "No archived frame (incident frame, event frame or capture) in the backtest's window",
  },
  KENSA_ERR_BACKTEST_MODEL_PROJECT_MISMATCH: { status: 422, message: "The model version belongs to another project" },
  KENSA_ERR_BACKTEST_RANGE_INVALID: { status: 400, message: "The backtest's window is empty or reversed" },
  KENSA_ERR_BACKTEST_FAILED: { status: 422, message: "The backtest could not be run" },
  KENSA_ERR_SITE_TOKEN_INVALID: { status: 401, message: "Missing, unknown or revoked site token, or another site's" },
  KENSA_ERR_SITE_NOT_FOUND: { status: 404, message: "No site with this id" },
  KENSA_ERR_SITE_EXISTS: { status: 409, message: "A site with this id already exists" },
  KENSA_ERR_SITE_PROJECT_UNKNOWN: { status: 422, message: "The site does not serve a central project of this slug" },
  KENSA_ERR_FEDERATION_HASH_MISMATCH: { status: 422, message: "The bytes do not have the sha256 they were sent as" },
  KENSA_ERR_FEDERATION_UPLINK_DOWN: { status: 503, message: "This site hub cannot reach its central hub" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** An error that carries a stable catalog code; HTTP replies and agent reports use `code`. */
export class KensaError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? errorCatalog[code].message);
    this.name = "KensaError";
    this.code = code;
    this.status = errorCatalog[code].status;
    this.details = details;
  }
}

export function isKensaError(err: unknown): err is KensaError {
  return err instanceof KensaError;
}
