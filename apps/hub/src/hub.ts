import { join } from "node:path";
import { KensaError } from "@kensa/contracts";
import { checkModelAgainstManifest } from "@kensa/vision";
import { backtestsOnHub } from "./backtest/backtest.js";
import { backtestPlugin } from "./backtest/backtest-plugin.js";
import { blobStoreFromConfig } from "./blobstore/s3/blob-store-from-config.js";
import { type EventBus, FAN_OUT_EVENTS, type HubEventMap } from "./bus/event-bus.js";
import { InProcessEventBus } from "./bus/in-process-event-bus.js";
import { PgEventBus } from "./bus/pg-event-bus.js";
import { type HubConfig, type HubConfigInput, parseHubConfig } from "./config.js";
import { consolePlugin } from "./console/console-plugin.js";
import { defaultConsoleDir } from "./console/console-routes.js";
import { createDatasets } from "./datasets/datasets.js";
import { datasetsOnWorkers } from "./datasets/datasets-on-workers.js";
import { datasetsPlugin } from "./datasets/datasets-plugin.js";
import { openDatabase } from "./db/open-database.js";
import { driftPlugin } from "./drift/drift-plugin.js";
import { registerFederation } from "./federation/federation.js";
import { agentReleasePlugin } from "./fleet/agent-release-routes.js";
import { AgentReleaseService } from "./fleet/agent-release-service.js";
import { deviceConfigPlugin } from "./fleet/device-config-routes.js";
import { DeviceConfigService } from "./fleet/device-config-service.js";
import { createFleet, redeployForRule } from "./fleet/fleet.js";
import { fleetPlugin } from "./fleet/fleet-plugin.js";
import { signingPlugin } from "./fleet/signing-routes.js";
import { SigningService } from "./fleet/signing-service.js";
import { closeApp, createApp } from "./http/create-app.js";
import { httpPlugin } from "./http/http-plugin.js";
import { HubUrls } from "./http/hub-urls.js";
import { listenHttp } from "./http/listen-http.js";
import { RouteCatalog } from "./http/route-catalog.js";
import { loadHubTls, publicUrls, reloadHubTls, warnPlainListeners } from "./hub-tls.js";
import type { Hub, HubAddresses, HubDeps } from "./hub-types.js";
import { createIncidents } from "./incidents/incidents.js";
import { incidentsPlugin } from "./incidents/incidents-plugin.js";
import { dynsecFromConfig } from "./ingest/dynsec-from-config.js";
import type { EmbeddedBroker } from "./ingest/embedded-broker.js";
import { startEmbeddedBroker } from "./ingest/embedded-broker-from-config.js";
import type { HubMqttClient } from "./ingest/hub-mqtt-client.js";
import { hubMqttClientFromConfig } from "./ingest/hub-mqtt-client-from-config.js";
import { Ingest } from "./ingest/ingest.js";
import { applyHubLimits } from "./limits/hub-limits.js";
import { driftAlertsOf } from "./notify/drift-alerts.js";
import { createNotify } from "./notify/notify.js";
import { notifyPlugin } from "./notify/notify-plugin.js";
import { rolloutAlertsOf } from "./notify/rollout-alerts.js";
import { resolveAdminToken } from "./people/admin-token.js";
import { createPeople } from "./people/people.js";
import { peoplePlugin } from "./people/people-plugin.js";
import { ProjectService } from "./projects/project-service.js";
import { projectsPlugin } from "./projects/projects-plugin.js";
import { ModelService } from "./registry/model-service.js";
import { registryPlugin } from "./registry/registry-plugin.js";
import { retentionPlugin } from "./retention/retention-plugin.js";
import { rolloutPlugin } from "./rollouts/rollout-routes.js";
import { createRollouts } from "./rollouts/rollouts.js";
import { shadowPlugin } from "./shadow/shadow-plugin.js";
import { ShutdownSteps } from "./shutdown-steps.js";
import { blobIntegrityPlugin } from "./system/blob-integrity-plugin.js";
import { HubMetrics } from "./system/hub-metrics.js";
import { openSecretsAtRest } from "./system/secrets-at-rest.js";
import { StatsService } from "./system/stats-service.js";
import { systemPlugin } from "./system/system-plugin.js";
import { TelemetryHistory } from "./telemetry/telemetry-history.js";
import { telemetryPlugin } from "./telemetry/telemetry-plugin.js";
import { MAX_REMOTE_ATTEMPTS } from "./training/remote-training.js";
import { createTraining } from "./training/training.js";
import { trainingPlugin } from "./training/training-plugin.js";
import { workerPlugin } from "./training/worker-plugin.js";

export type { Hub, HubAddresses, HubDeps };

/**
 * Builds the hub — validated config, migrated database, each feature's services and its named
 * plugin — and binds nothing. The one place concrete adapters are chosen and features are
 * tied to each other's ports.
 */
export async function createHub(input: HubConfigInput | HubConfig = {}, deps: HubDeps = {}): Promise<Hub> {
  const config = parseHubConfig(input);
  const limits = applyHubLimits(config.limits);
  const env = deps.env ?? process.env;
  const adminToken = await resolveAdminToken(config.adminToken, env, config.dataDir);
  const tls = await loadHubTls(config);
  const { app, inFlight } = createApp(config, env, tls.http);
  const log = app.log;

  // infrastructure
  const store = await openDatabase(config, log);
  const { db } = store;
  const secrets = await openSecretsAtRest({ config, env, store, log });
  // `<dataDir>/blobs` or the S3 bucket `blobs` names (docs/storage.md)
  const blobs = await blobStoreFromConfig(config.blobs, {
    ...{ dataDir: config.dataDir, env, log },
    reveal: (value, purpose) => secrets.box.reveal(value, purpose),
  });
  // on PostgreSQL the hub may run as several replicas: live views hear every replica's incidents
  const pgBus =
    config.database.type === "postgres"
      ? PgEventBus.fromUrl<HubEventMap>({
          url: config.database.url,
          schema: config.database.schema,
          fanOut: FAN_OUT_EVENTS,
          log,
        })
      : null;
  const bus: EventBus<HubEventMap> = pgBus ?? new InProcessEventBus<HubEventMap>(log);
  const urls = new HubUrls(...publicUrls(config, tls, config.http.port));

  const people = await createPeople({
    ...{ db, env, log, dataDir: config.dataDir },
    sessionTtlMs: config.auth.sessionTtlHours * 3_600_000,
  });
  const { sessions, tokens, audit } = people;
  const routes = new RouteCatalog();
  const projects = new ProjectService(db, secrets.box);
  // the registry's model store, which the fleet bundles and training registers into
  const models = new ModelService(db, blobs, projects, deps.checkModel ?? checkModelAgainstManifest);
  // bundle signing: the key lives outside the database (a 0600 key file or a signer command)
  const signing = await SigningService.open({ db, blobs, config: config.signing, dataDir: config.dataDir });
  const fleet = createFleet({
    db,
    blobs,
    urls,
    projects,
    models,
    log,
    throttle: config.auth.deviceThrottle,
    tls,
    rollout: config.rollout,
    signing,
  });
  const { deviceAuth, desired, deployments, devices } = fleet;
  // an external Mosquitto keeps its own device accounts: the hub manages them as a dynsec admin
  const dynsec = dynsecFromConfig(config.mqtt, devices, log);
  devices.attachAccounts(dynsec);
  devices.attachTrust(() => signing.trustRoot());
  // a rotation or revocation on one replica: the others forget the device's cached logins and
  // accepted certificates, and end its sessions on their own embedded broker
  devices.onCredentialsChanged((deviceId) => bus.publish("device.credentialsChanged", { deviceId }));
  bus.subscribe("device.credentialsChanged", ({ deviceId }) => devices.forgetCredentials(deviceId));
  // devices decide incidents with the rule their bundle carries: a changed rule is bundled anew
  bus.subscribe("project.ruleChanged", ({ projectId }) => redeployForRule(deployments, projectId, log));

  const datasets = createDatasets({
    db,
    blobs,
    projects,
    // archives are spooled next to the blobs; limits.archiveBytes is generous because a
    // dataset is many images (NEU-DET is 37 MB, magnetic tile 57 MB)
    imports: { tmpDir: join(config.dataDir, "tmp", "imports"), ...limits.imports },
    log,
  });
  await datasets.imports.recover();
  // training, with the registry's evaluation, gate and approvals
  const training = createTraining({
    ...{ config, db, blobs, projects, datasets, models, deployments, audit, log, env: env as NodeJS.ProcessEnv },
    // drift alerts are stored before the dispatcher (made below) is woken; triggers tick only after start()
    onDrift: driftAlertsOf({ db, projects, models, dispatcher: { kick: () => notify.dispatcher.kick() }, log }),
  });
  await training.recover();
  // dataset imports and exports as jobs, here or on `kensa worker`s (training.remote.localImports / localExports)
  datasetsOnWorkers({
    db,
    blobs,
    projects,
    datasets,
    training,
    config: config.training,
    maxAttempts: MAX_REMOTE_ATTEMPTS,
    log,
  });

  // incidents own their ports: notify plans the alerts, datasets turns verdicts and late frames
  // into labelled samples; notify reads an incident when it sends (never before start)
  const notify = createNotify({
    db,
    config: { ...config, smtp: secrets.smtp },
    projects,
    incidents: { get: (id) => incidents.incidents.get(id) },
    urls,
    log,
    ...(deps.notifiers ? { notifiers: deps.notifiers } : {}),
  });
  const incidents = createIncidents({ db, blobs, projects, alerts: notify.notifications, labels: datasets.samples });
  const { dispatcher } = notify;

  const clock = deps.telemetryClock ? { now: deps.telemetryClock } : {};
  const telemetryHistory = new TelemetryHistory({ db, config: config.telemetry, log, ...clock });
  // ingest: MQTT in, incidents out to notifications and live views
  const ingest = new Ingest({
    telemetryHistory,
    db,
    devices,
    events: incidents.eventIngest,
    log,
    maxBatch: config.mqtt.maxBatch,
    limits: limits.events,
    onIncident: (incident) => {
      dispatcher.kick();
      bus.publish("incident.created", { incident });
    },
  });
  const stats = new StatsService(db, () => ingest.counters, store.dialect);
  let broker: EmbeddedBroker | null = null;
  let mqttClient: HubMqttClient | null = null;

  // HTTP: one named plugin per feature, each given only what its routes use
  await app.register(httpPlugin, {
    adminToken,
    devices: deviceAuth,
    sessions,
    tokens,
    catalog: routes,
    multipartFileBytes: config.limits.modelBytes,
  });
  await app.register(peoplePlugin, {
    ...people,
    secureCookie: urls.http.startsWith("https://"),
  });
  await app.register(projectsPlugin, { projects, audit, bus });
  await app.register(fleetPlugin, { ...fleet, audit, blobs, store });
  await app.register(signingPlugin, { signing, audit });
  await app.register(agentReleasePlugin, {
    agentReleases: new AgentReleaseService({ db, blobs, signing, desired: fleet.desired }),
    blobs,
    audit,
  });
  await app.register(deviceConfigPlugin, { audit, deviceConfigs: new DeviceConfigService(db, fleet.desired) });
  // staged rollouts: waves judged on field signals against a control group (docs/rollouts.md)
  const rollouts = createRollouts({
    ...{ db, deployments, models, projects, audit, log },
    alerts: rolloutAlertsOf({ db, projects, models, dispatcher, log }),
  });
  await app.register(rolloutPlugin, { rollouts, db, config: config.rollout });
  await app.register(incidentsPlugin, {
    ...incidents,
    bus,
    audit,
    blobs,
    limits: { mediaBytes: config.limits.mediaBytes, clipBytes: config.limits.clipBytes },
  });
  await app.register(notifyPlugin, { notifications: notify.notifications });
  await app.register(datasetsPlugin, {
    datasets,
    devices,
    blobs,
    store,
    audit,
    mediaBytes: config.limits.mediaBytes,
  });
  await app.register(trainingPlugin, { training, projects, audit });
  await app.register(workerPlugin, {
    remote: training.remote,
    outputBytes: config.limits.modelBytes,
    // an export job's archive is as large as the dataset
    uploadBytes: Math.max(config.limits.modelBytes, limits.imports.maxArchiveBytes),
  });
  await app.register(registryPlugin, {
    models,
    evaluations: training.evaluations,
    gate: training.gate,
    registry: training.registry,
    policy: training.settings,
    projects,
    audit,
  });
  // backtests: candidates replayed on archived frames by a worker of their own on the job queue
  const backtests = backtestsOnHub({ db, blobs, models, projects, training, config: config.training, log });
  await app.register(backtestPlugin, { backtests, audit });
  await app.register(shadowPlugin, { db, models });
  await app.register(driftPlugin, { db, models });
  const mqttConnected = () => mqttClient?.connected ?? false;
  const metrics = new HubMetrics({
    ingest: () => ingest.counters,
    storageFailing: () => ingest.problems().length > 0,
    mqttConnected,
    broker: () => broker?.counters ?? null,
    missingEvents: () => devices.missingEvents(),
    auditRefusals: () => audit.refusals.counters,
    deviceAuth: () => deviceAuth.counters,
    sqliteWal: () => store.walCheckpoints,
    db,
  });
  // a site hub whose uplink to its central hub is down is degraded, never stopped (docs/operations.md)
  const fedDeps = { config, env, db, blobs, projects, models, training, audit, log, rollouts };
  const federation = await registerFederation(app, fedDeps);
  const problems = () => [...ingest.problems(), ...deviceAuth.problems(), ...federation.problems()];
  await app.register(retentionPlugin, { db, blobs, projects, audit, config, metrics });
  await app.register(systemPlugin, { stats, metrics, mqttConnected, problems });
  await app.register(blobIntegrityPlugin, { db, blobs, config, incidents, metrics, audit });
  await app.register(telemetryPlugin, { history: telemetryHistory, devices, metrics });
  await app.register(consolePlugin, { dir: config.web.dir ?? defaultConsoleDir() });

  let started = false;
  const plainListeners: string[] = [];
  let closed: Promise<void> | null = null;
  const steps = new ShutdownSteps(log);

  async function start(): Promise<HubAddresses> {
    if (started) throw new KensaError("KENSA_ERR_INTERNAL", "the hub was already started");
    started = true;
    let brokerUrl = config.mqtt.url ?? "";
    let username = config.mqtt.username;
    let password = config.mqtt.password;
    try {
      if (config.mqtt.embedded.enabled) {
        const started = await startEmbeddedBroker({
          ...{ config, tls: tls.broker, deviceAuth, log, onRefused: audit.refusals.mqtt },
          onDeviceMessage: (topic, payload) => ingest.offer(topic, payload),
        });
        ({ broker, url: brokerUrl, username, password } = started);
        devices.attachAccounts(started.broker);
      }
      await pgBus?.start();
      const httpPort = await listenHttp(app, config.http.host, config.http.port);
      plainListeners.push(...warnPlainListeners(config, tls, log));
      urls.set(...publicUrls(config, tls, httpPort, brokerUrl));
      mqttClient = hubMqttClientFromConfig({
        ...{ config, url: brokerUrl, username, password, embeddedTls: !!tls.broker, clientTls: tls.client, log },
        onMessage: (topic, payload) => ingest.offer(topic, payload),
        // The embedded broker keeps retained messages in memory only, and an external one may
        // have been wiped: after every connect, publish every device's desired state again.
        onConnected: () => desired.sync("all"),
      });
      desired.attach(mqttClient);
      ingest.attach(mqttClient);
      // creates the hub's own account before the hub's client connects with it
      await dynsec?.start();
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

  /** Stops in order; a step that fails is logged and the rest still run, then close() rejects with it. */
  async function shutdown(): Promise<void> {
    try {
      // a training run in progress is stopped (SIGTERM) and failed as interrupted; evaluations go back in the queue
      await steps.run("training", () => training.stop());
      await steps.run("notifications", () => dispatcher.stop());
      await steps.run("dataset imports", () => datasets.imports.idle());
      // no new desired-state publishes; close() fails those still waiting for a PUBACK
      desired.attach(null);
      // events still queued commit and are confirmed while the connection is up
      await steps.run("ingest", () => ingest.idle());
      await steps.run("telemetry history", () => telemetryHistory.stop());
      ingest.attach(null);
      await steps.run("mqtt client", () => mqttClient?.close());
      await steps.run("broker accounts", () => dynsec?.close());
      mqttClient = null;
      await steps.run("desired state", () => desired.idle());
      await steps.run("embedded broker", () => broker?.close());
      await steps.run("http", () => closeApp(app), inFlight);
      await steps.run("desired state", () => desired.idle());
      await steps.run("event bus", () => pgBus?.close());
      await steps.run("database", () => store.close());
    } finally {
      steps.done();
    }
    if (steps.failure !== undefined) throw steps.failure;
  }

  return {
    app,
    config,
    adminToken,
    initialAdminPassword: people.initialAdminPassword,
    store,
    blobs,
    ingest,
    telemetry: telemetryHistory,
    get broker() {
      return broker;
    },
    dynsec,
    deviceCa: tls.deviceCa,
    routes,
    training,
    backtests,
    dispatcher,
    start,
    reloadTls: () => reloadHubTls(config, tls, { app, broker, log }),
    plainListeners,
    close: () => {
      closed ??= shutdown();
      return closed;
    },
    get closing() {
      return steps.current;
    },
  };
}
