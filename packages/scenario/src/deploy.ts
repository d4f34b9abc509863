import type { KensaClient } from "@kensa/client";
import { type Deployment, fleetRoutes } from "@kensa/contracts";

/** Deploys a model version's bundle to every device with the tag, on the `default` pipeline. */
export function deployToTag(client: KensaClient, modelVersionId: string, tag: string): Promise<Deployment> {
  return client.call(fleetRoutes.createDeployment, {
    body: { modelVersionId, pipeline: "default", target: { deviceIds: [], tags: [tag] } },
  });
}

/** Deploys a model version's bundle to these devices, on the `default` pipeline. */
export function deployToDevices(client: KensaClient, modelVersionId: string, deviceIds: string[]): Promise<Deployment> {
  return client.call(fleetRoutes.createDeployment, {
    body: { modelVersionId, pipeline: "default", target: { deviceIds, tags: [] } },
  });
}
