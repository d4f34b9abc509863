import { type BundleRef, type Desired, fleetRoutes, routePath } from "@kensa/contracts";
import { type AgentReleaseRef, renderAgentRef } from "./agent-release-ref.js";

/**
 * A device's desired state as stored: URL-free, because the hub's public URL may change
 * between runs (port 0, a new proxy); URLs are rendered when the message is published.
 */
export interface StoredDesired {
  updatedAt: string;
  deploymentId: string | null;
  pipelines: StoredPipeline[];
  /** the agent release the device should run (agent-release-service.ts); absent: its own */
  agent?: AgentReleaseRef;
}

export interface StoredPipeline {
  id: string;
  bundle: StoredBundleRef | null;
  /** a challenger run beside `bundle` on the same frames, never raising incidents (shadow mode) */
  shadow?: StoredBundleRef | null;
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

/**
 * Sets one pipeline's bundle, keeping the device's other pipelines as they are. Its shadow stays
 * unless the bundle is now the shadow's own model (the challenger was promoted).
 */
export function withPipeline(
  cur: StoredDesired,
  pipeline: string,
  bundle: StoredBundleRef,
  deploymentId: string,
  updatedAt: string,
): StoredDesired {
  const prior = cur.pipelines.find((p) => p.id === pipeline);
  const shadow = prior?.shadow && prior.shadow.modelVersionId !== bundle.modelVersionId ? prior.shadow : null;
  return withEntry(cur, { id: pipeline, bundle, ...(shadow ? { shadow } : {}) }, deploymentId, updatedAt);
}

/** Sets (or, with null, removes) one pipeline's shadow model, keeping its bundle. */
export function withShadow(
  cur: StoredDesired,
  pipeline: string,
  shadow: StoredBundleRef | null,
  deploymentId: string,
  updatedAt: string,
): StoredDesired {
  const prior = cur.pipelines.find((p) => p.id === pipeline);
  return withEntry(
    cur,
    { id: pipeline, bundle: prior?.bundle ?? null, ...(shadow ? { shadow } : {}) },
    deploymentId,
    updatedAt,
  );
}

function withEntry(cur: StoredDesired, entry: StoredPipeline, deploymentId: string, updatedAt: string): StoredDesired {
  const others = cur.pipelines.filter((p) => p.id !== entry.id);
  const pipelines = [...others, entry].sort((a, b) => a.id.localeCompare(b.id));
  return { ...cur, updatedAt, deploymentId, pipelines };
}

function renderRef(ref: StoredBundleRef, httpBase: string): BundleRef {
  return {
    sha256: ref.sha256,
    modelVersionId: ref.modelVersionId,
    url: `${httpBase}${routePath(fleetRoutes.getBundle.path, { sha: ref.sha256 })}`,
    modelUrl: `${httpBase}${routePath(fleetRoutes.getBlob.path, { sha: ref.modelSha256 })}`,
    modelSha256: ref.modelSha256,
    size: ref.size,
  };
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
      bundle: p.bundle ? renderRef(p.bundle, httpBase) : null,
      ...(p.shadow ? { shadow: renderRef(p.shadow, httpBase) } : {}),
    })),
    // this hub confirms every event once committed: the device deletes on that, not the PUBACK
    eventAcks: "hub",
    ...(stored.agent ? { agent: renderAgentRef(stored.agent, httpBase) } : {}),
  };
}
