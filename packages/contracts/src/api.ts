import { referenceRoutes } from "./datasets/references.js";
import { datasetRoutes } from "./datasets/routes.js";
import { federationRoutes } from "./federation/routes.js";
import { agentReleaseRoutes } from "./fleet/agent-releases.js";
import { deviceConfigRoutes } from "./fleet/device-config-routes.js";
import { rolloutRoutes } from "./fleet/rollouts.js";
import { fleetRoutes } from "./fleet/routes.js";
import { signingRoutes } from "./fleet/signing.js";
import { telemetryRoutes } from "./fleet/telemetry.js";
import { incidentRoutes } from "./incidents/routes.js";
import { peopleRoutes } from "./people/routes.js";
import { projectRoutes } from "./projects/routes.js";
import { backtestRoutes } from "./registry/backtest.js";
import { driftRoutes } from "./registry/drift.js";
import { registryRoutes } from "./registry/routes.js";
import { shadowRoutes } from "./registry/shadow.js";
import { retentionRoutes } from "./retention/routes.js";
import type { RouteSpec } from "./route.js";
import { systemRoutes } from "./system/routes.js";
import { trainingRoutes } from "./training/routes.js";
import { workerRoutes } from "./training/worker-routes.js";

/** Every route table of the hub's HTTP API, by domain: what the hub serves and OpenAPI describes. */
export const apiRoutes = {
  projects: projectRoutes,
  fleet: fleetRoutes,
  rollouts: rolloutRoutes,
  signing: signingRoutes,
  agentReleases: agentReleaseRoutes,
  deviceConfig: deviceConfigRoutes,
  telemetry: telemetryRoutes,
  incidents: incidentRoutes,
  datasets: datasetRoutes,
  references: referenceRoutes,
  training: trainingRoutes,
  registry: registryRoutes,
  shadow: shadowRoutes,
  backtest: backtestRoutes,
  drift: driftRoutes,
  people: peopleRoutes,
  system: systemRoutes,
  retention: retentionRoutes,
  workers: workerRoutes,
  federation: federationRoutes,
} as const;

/** Every route of every table, with its domain and name. */
export function allRoutes(): Array<{ domain: string; name: string; spec: RouteSpec }> {
  return Object.entries(apiRoutes).flatMap(([domain, table]) =>
    Object.entries(table as Record<string, RouteSpec>).map(([name, spec]) => ({ domain, name, spec })),
  );
}
