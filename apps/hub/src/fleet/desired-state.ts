import { type Desired, fleetRoutes, routePath } from "@kensa/contracts";
import { type AgentReleaseRef, renderAgentRef } from "./agent-release-ref.js";

/**
 * A device's desired state as stored: URL-free, because the hub's public URL may change
 * between runs (port 0, a new proxy); URLs are rendered when the message is published.
 */
export interface StoredDesired {
  updatedAt: string;
  deploymentId: string | null;
  pipelines: Array<{ id: string; bundle: StoredBundleRef | null }>;
  /** the agent release the device should run (agent-release-service.ts); absent: its own */
  agent?: AgentReleaseRef;
}

export interface StoredBundleRef {
  sha256: string;
  modelVersionId: string;
  modelSha256: string;
  /** bytes of the model file */
  size: number;
}

export function emptyDesired(updatedAt: string): StoredDesired {
  return { updatedAt, deploymentId: null, pipelines: [] };
}

/** Sets one pipeline's bundle, keeping the device's other pipelines as they are. */
export function withPipeline(
  cur: StoredDesired,
  pipeline: string,
  bundle: StoredBundleRef,
  deploymentId: string,
  updatedAt: string,
): StoredDesired {
  const others = cur.pipelines.filter((p) => p.id !== pipeline);
  const pipelines = [...others, { id: pipeline, bundle }].sort((a, b) => a.id.localeCompare(b.id));
  return { ...cur, updatedAt, deploymentId, pipelines };
}

/** The retained MQTT message, with absolute URLs under the hub's current public URL. */
export function renderDesired(stored: StoredDesired, rev: number, httpBase: string): Desired {
  return {
    v: 1,
    rev,
    updatedAt: stored.updatedAt,
    deploymentId: stored.deploymentId,
    pipelines: stored.pipelines.map((p) => ({
      id: p.id,
      bundle: p.bundle
        ? {
            sha256: p.bundle.sha256,
            modelVersionId: p.bundle.modelVersionId,
            url: `${httpBase}${routePath(fleetRoutes.getBundle.path, { sha: p.bundle.sha256 })}`,
            modelUrl: `${httpBase}${routePath(fleetRoutes.getBlob.path, { sha: p.bundle.modelSha256 })}`,
            modelSha256: p.bundle.modelSha256,
            size: p.bundle.size,
          }
        : null,
    })),
    // this hub confirms every event once committed: the device deletes on that, not the PUBACK
    eventAcks: "hub",
    ...(stored.agent ? { agent: renderAgentRef(stored.agent, httpBase) } : {}),
  };
}
