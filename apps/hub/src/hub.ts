import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import multipart from "@fastify/multipart";
import { KensaError } from "@kensa/contracts";
import { checkModelAgainstManifest } from "@kensa/vision";
import Fastify, { type FastifyInstance } from "fastify";
import { FsBlobStore } from "./blobstore/fs/fs-blob-store.js";
import type { HubEventMap } from "./bus/event-bus.js";
import { InProcessEventBus } from "./bus/in-process-event-bus.js";
import { type HubConfig, type HubConfigInput, parseHubConfig } from "./config.js";
import { consoleRoutes, defaultConsoleDir } from "./console/console-routes.js";
import { datasetTransferRoutes } from "./datasets/dataset-transfer-routes.js";
import { createDatasets } from "./datasets/datasets.js";
import { maskRoutes } from "./datasets/mask-routes.js";
import { sampleRoutes } from "./datasets/sample-routes.js";
import { snapshotRoutes } from "./datasets/snapshot-routes.js";
import { openDatabase } from "./db/open-database.js";
import { deploymentRoutes } from "./fleet/deployment-routes.js";
import { DeploymentService } from "./fleet/deployment-service.js";
import { DesiredSync } from "./fleet/desired-sync.js";
import { DeviceAuth } from "./fleet/device-auth.js";
import { deviceFrameRoutes } from "./fleet/device-frame-routes.js";
import { DeviceFrameService } from "./fleet/device-frame-service.js";
import { deviceRoutes } from "./fleet/device-routes.js";
import { DeviceService, HUB_MQTT_USERNAME } from "./fleet/device-service.js";
import { registerApiReference } from "./http/api-reference.js";
import { registerErrorHandler } from "./http/error-handler.js";
import { connectHost, HubUrls } from "./http/hub-urls.js";
import { registerAuth } from "./http/request-auth.js";
import { RouteCatalog } from "./http/route-catalog.js";
import type { HubServices } from "./hub-services.js";
import { ClipService } from "./incidents/clip-service.js";
import { eventRoutes } from "./incidents/event-routes.js";
import { EventService } from "./incidents/event-service.js";
import { incidentRoutes } from "./incidents/incident-routes.js";
import { IncidentService } from "./incidents/incident-service.js";
import { incidentStreamRoutes } from "./incidents/incident-stream-routes.js";
import { VerdictService } from "./incidents/verdict-service.js";
import { EmbeddedBroker } from "./ingest/embedded-broker.js";
import { HubMqttClient } from "./ingest/hub-mqtt-client.js";
import { Ingest } from "./ingest/ingest.js";
import { EmailNotifier } from "./notify/email-notifier.js";
import { NotificationDispatcher } from "./notify/notification-dispatcher.js";
import { NotificationService } from "./notify/notification-service.js";
import type { Notifier } from "./notify/notifier.js";
import { WebhookNotifier } from "./notify/webhook-notifier.js";
import { resolveAdminToken } from "./people/admin-token.js";
import { ApiTokenService } from "./people/api-token-service.js";
import { AuditLog } from "./people/audit-log.js";
import { auditRoutes } from "./people/audit-routes.js";
import { authRoutes } from "./people/auth-routes.js";
import { ensureInitialAdmin } from "./people/initial-admin.js";
import { SessionService } from "./people/session-service.js";
import { userRoutes } from "./people/user-routes.js";
import { UserService } from "./people/user-service.js";
import { projectRoutes } from "./projects/project-routes.js";
import { ProjectService } from "./projects/project-service.js";
import { modelRoutes } from "./registry/model-routes.js";
import { type ModelChecker, ModelService } from "./registry/model-service.js";
import { registryRoutes } from "./registry/registry-routes.js";
import { StatsService } from "./system/stats-service.js";
import { systemRoutes } from "./system/system-routes.js";
import { createTraining } from "./training/training.js";
import { trainingRoutes } from "./training/training-routes.js";

export interface HubDeps {
  /** for KENSA_ADMIN_TOKEN and KENSA_LOG_LEVEL; process.env by default */
  env?: Record<string, string | undefined>;
  /** replace notifiers by type (e.g. another e-mail transport); email and webhook by default */
  notifiers?: Notifier[];
  /** ONNX validation; @kensa/vision's checkModelAgainstManifest by default */
  checkModel?: ModelChecker;
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
  services: HubServices;
  /** binds HTTP and the embedded broker, connects the hub's MQTT client, starts notifications */
  start(): Promise<HubAddresses>;
  close(): Promise<void>;
  /** while close() runs, the part of the hub it is waiting for ("http", "database", …), else null */
  readonly closing: string | null;
}

const LOG_LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** Builds the hub: validated config, migrated database, services and routes. Binds nothing. */
export async function createHub(input: HubConfigInput | HubConfig = {}, deps: HubDeps = {}): Promise<Hub> {
  const config = parseHubConfig(input);
  const env = deps.env ?? process.env;
  await mkdir(config.dataDir, { recursive: true });
  const adminToken = await resolveAdminToken(config.adminToken, env, config.dataDir);
  const envLevel = env.KENSA_LOG_LEVEL && LOG_LEVELS.has(env.KENSA_LOG_LEVEL) ? env.KENSA_LOG_LEVEL : undefined;

  const app = Fastify({
    logger: {
      level: config.logLevel ?? envLevel ?? "info",
      redact: ["req.headers.authorization", "req.headers.cookie"],
    },
    // Unknown keys are errors, not silently dropped (Fastify's default removes them).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true, allErrors: false } },
    bodyLimit: 1024 * 1024,
  });
  const log = app.log;
  // requests not yet answered in full, so a shutdown that waits on HTTP can say which
  const inFlight = new Set<{ method: string; url: string }>();
  app.addHook("onRequest", (req, reply, done) => {
    const entry = { method: req.method, url: req.url };
    inFlight.add(entry);
    reply.raw.once("close", () => inFlight.delete(entry));
    done();
  });

  const store = await openDatabase(config);
  const blobs = new FsBlobStore(join(config.dataDir, "blobs"));
  const urls = new HubUrls(
    config.http.publicUrl ?? `http://${connectHost(config.http.host)}:${config.http.port}`,
    config.mqtt.publicUrl ??
      (config.mqtt.embedded.enabled
        ? `mqtt://${connectHost(config.mqtt.embedded.host)}:${config.mqtt.embedded.port}`
        : (config.mqtt.url ?? "")),
  );
  const { db } = store;
  const users = new UserService(db);
  const initialAdminPassword = await ensureInitialAdmin(users, env, config.dataDir);
  const sessions = new SessionService(db, config.auth.sessionTtlHours * 3_600_000);
  const tokens = new ApiTokenService(db);
  const routeCatalog = new RouteCatalog();
  const audit = new AuditLog(db);
  const deviceAuth = new DeviceAuth(db);
  const projects = new ProjectService(db);
  const desired = new DesiredSync(db, urls, log);
  const models = new ModelService(db, blobs, projects, deps.checkModel ?? checkModelAgainstManifest);
  const deployments = new DeploymentService(db, blobs, projects, models, desired);
  const devices = new DeviceService(db, projects, deployments, desired, urls);
  const datasets = createDatasets({
    db,
    blobs,
    projects,
    // archives are spooled next to the blobs; the limit is generous because a dataset is
    // many images (NEU-DET is 37 MB, magnetic tile 57 MB)
    imports: { tmpDir: join(config.dataDir, "tmp", "imports"), maxArchiveBytes: 4 * 1024 ** 3 },
    log,
  });
  await datasets.imports.recover();
  const training = createTraining({
    config,
    db,
    blobs,
    projects,
    datasets,
    models,
    deployments,
    audit,
    log,
    env: env as NodeJS.ProcessEnv,
  });
  await training.recover();
  const incidents = new IncidentService(db);
  const notifications = new NotificationService(db);
  // media of an incident whose verdict came first gives the verdict's sample its image
  const events = new EventService({
    db,
    blobs,
    projects,
    incidents,
    alerts: notifications,
    mediaLinks: datasets.samples,
  });
  // every verdict becomes a label revision of its incident's sample, in the same transaction
  const verdicts = new VerdictService(db, incidents, projects, datasets.samples);
  const notifierMap = new Map<string, Notifier>([
    ["email", new EmailNotifier(config.smtp)],
    ["webhook", new WebhookNotifier()],
  ]);
  for (const n of deps.notifiers ?? []) notifierMap.set(n.type, n);
  const dispatcher = new NotificationDispatcher({
    db,
    notifiers: [...notifierMap.values()],
    projects,
    incidents,
    urls,
    log,
    options: config.notifications,
  });
  const bus = new InProcessEventBus<HubEventMap>(log);
  bus.subscribe("project.ruleChanged", ({ projectId }) => {
    deployments
      .redeployForRule(projectId)
      .then(({ ok, failed }) => {
        if (ok.length || failed.length) {
          log.info({ projectId, deployments: ok.map((d) => d.id), failed }, "incident rule changed: bundles made anew");
        }
      })
      .catch((err: unknown) => log.error({ err, projectId }, "incident rule changed: bundles could not be made anew"));
  });
  const ingest = new Ingest(devices, events, log, (incident) => {
    dispatcher.kick();
    bus.publish("incident.created", { incident });
  });
  const stats = new StatsService(db, () => ingest.counters);

  let broker: EmbeddedBroker | null = null;
  let mqttClient: HubMqttClient | null = null;
  const services: HubServices = {
    store,
    blobs,
    urls,
    deviceAuth,
    projects,
    devices,
    models,
    deployments,
    desired,
    events,
    incidents,
    verdicts,
    notifications,
    dispatcher,
    ingest,
    stats,
    datasets,
    training,
    auth: { users, sessions, tokens, routes: routeCatalog },
    audit,
    bus,
    deviceFrames: new DeviceFrameService(db),
    clips: new ClipService(db, blobs),
    get broker() {
      return broker;
    },
    mqttConnected: () => mqttClient?.connected ?? false,
  };

  registerErrorHandler(app);
  registerAuth(app, { adminToken, devices: deviceAuth, sessions, tokens, catalog: routeCatalog });
  await app.register(multipart, {
    limits: { fileSize: config.limits.modelBytes, files: 1, fields: 10, fieldSize: 1024 * 1024, parts: 12 },
  });
  projectRoutes(app, { projects, audit, bus });
  deviceRoutes(app, services);
  modelRoutes(app, services);
  deploymentRoutes(app, services);
  eventRoutes(app, services, { mediaBytes: config.limits.mediaBytes, clipBytes: config.limits.clipBytes });
  incidentRoutes(app, services);
  sampleRoutes(app, services, { mediaBytes: config.limits.mediaBytes });
  maskRoutes(app, services, { maxBytes: config.limits.mediaBytes });
  snapshotRoutes(app, services);
  datasetTransferRoutes(app, services);
  trainingRoutes(app, services);
  registryRoutes(app, services);
  systemRoutes(app, services);
  authRoutes(app, { users, sessions, audit, secureCookie: urls.http.startsWith("https://") });
  userRoutes(app, { users, tokens, audit });
  auditRoutes(app, audit);
  incidentStreamRoutes(app, bus);
  deviceFrameRoutes(app, services);
  await registerApiReference(app);
  // last: its catch-all GET serves the console for every path no API route took
  consoleRoutes(app, { dir: config.web.dir ?? defaultConsoleDir() });

  let started = false;
  let closed: Promise<void> | null = null;
  let closingStep: string | null = null;

  async function start(): Promise<HubAddresses> {
    if (started) throw new KensaError("KENSA_ERR_INTERNAL", "the hub was already started");
    started = true;
    let brokerUrl = config.mqtt.url ?? "";
    let username = config.mqtt.username;
    let password = config.mqtt.password;
    try {
      if (config.mqtt.embedded.enabled) {
        password = randomBytes(24).toString("base64url");
        username = HUB_MQTT_USERNAME;
        broker = new EmbeddedBroker({
          host: config.mqtt.embedded.host,
          port: config.mqtt.embedded.port,
          hubUsername: HUB_MQTT_USERNAME,
          hubPassword: password,
          verifyDevice: async (id, secret) => (await deviceAuth.verify(id, secret)) !== null,
          log,
        });
        const port = await broker.listen();
        brokerUrl = `mqtt://${connectHost(config.mqtt.embedded.host)}:${port}`;
      }
      try {
        await app.listen({ host: config.http.host, port: config.http.port });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
          throw new KensaError(
            "KENSA_ERR_PORT_IN_USE",
            `http listener: port ${config.http.port} on ${config.http.host} is already in use`,
            { listener: "http", host: config.http.host, port: config.http.port },
          );
        }
        throw err;
      }
      const addr = app.server.address();
      const httpPort = typeof addr === "object" && addr ? addr.port : config.http.port;
      urls.set(
        config.http.publicUrl ?? `http://${connectHost(config.http.host)}:${httpPort}`,
        config.mqtt.publicUrl ?? brokerUrl,
      );
      mqttClient = new HubMqttClient({
        url: brokerUrl,
        username,
        password,
        log,
        onMessage: (topic, payload) => ingest.handle(topic, payload),
        // The embedded broker keeps retained messages in memory only, and an external one may
        // have been wiped: after every connect, publish every device's desired state again.
        onConnected: () => desired.sync("all"),
      });
      desired.attach(mqttClient);
      await mqttClient.connect();
      dispatcher.start();
      training.start();
    } catch (err) {
      closed ??= shutdown();
      await closed;
      throw err;
    }
    log.info({ httpUrl: urls.http, mqttUrl: urls.mqtt }, "kensa hub started");
    return { httpUrl: urls.http, mqttUrl: urls.mqtt };
  }

  async function shutdown(): Promise<void> {
    // Each step is named, so a hub that does not stop says what it is waiting for. A step that
    // fails is logged and the rest still run (the database closes whatever else went wrong);
    // close() then rejects with the first failure.
    let failure: unknown;
    const step = async (name: string, fn: () => Promise<unknown>, detail?: () => unknown) => {
      const started = Date.now();
      closingStep = name;
      const slow = setInterval(() => {
        closingStep = detail ? `${name} ${JSON.stringify(detail())}` : name;
        log.warn({ step: closingStep, waitingMs: Date.now() - started }, "hub shutdown: still waiting");
      }, 5_000);
      try {
        await fn();
      } catch (err) {
        log.error({ err, step: name }, "hub shutdown: a step failed; going on");
        failure ??= err;
      } finally {
        clearInterval(slow);
      }
    };
    try {
      // a training run in progress is stopped (SIGTERM) and failed as interrupted; evaluations go back in the queue
      await step("training", () => training.stop());
      await step("notifications", () => dispatcher.stop());
      await step("dataset imports", () => datasets.imports.idle());
      // no new desired-state publishes; close() fails those still waiting for a PUBACK
      desired.attach(null);
      await step("mqtt client", async () => mqttClient?.close());
      mqttClient = null;
      await step("desired state", () => desired.idle());
      await step("embedded broker", async () => broker?.close());
      await step(
        "http",
        async () => {
          // Node closes idle keep-alive connections once, when close() starts. A connection busy
          // then (a request still arriving, a download still flushing) goes idle later and would
          // hold close() for Fastify's keep-alive timeout (72 s): from now on a connection closes
          // as soon as its response is out (Node adds its 1 s margin)
          app.server.keepAliveTimeout = 1;
          await app.close();
        },
        () => [...inFlight].map((r) => `${r.method} ${r.url}`),
      );
      await step("desired state", () => desired.idle());
      await step("database", () => store.close());
    } finally {
      closingStep = null;
    }
    if (failure !== undefined) throw failure;
  }

  return {
    app,
    config,
    adminToken,
    initialAdminPassword,
    services,
    start,
    close: () => {
      closed ??= shutdown();
      return closed;
    },
    get closing() {
      return closingStep;
    },
  };
}
