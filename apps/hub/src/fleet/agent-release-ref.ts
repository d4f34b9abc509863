import { agentReleaseRoutes, type DesiredAgent, routePath, type Signature } from "@kensa/contracts";

/** An agent release as a device's desired state stores it: URL-free, like bundles. */
export interface AgentReleaseRef {
  id: string;
  version: string;
  signatures: Signature[];
}

/** The `agent` entry of a desired-state message, with URLs under the hub's current public URL. */
export function renderAgentRef(ref: AgentReleaseRef, httpBase: string): DesiredAgent {
  return {
    version: ref.version,
    manifestSha256: ref.id,
    url: `${httpBase}${routePath(agentReleaseRoutes.agentReleaseManifest.path, { id: ref.id })}`,
    // `{sha256}` stays a placeholder: the device fills in each file's hash from the signed manifest
    fileUrl: `${httpBase}${routePath(agentReleaseRoutes.agentReleaseFile.path, { id: ref.id, sha: "SHA" }).replace("SHA", "{sha256}")}`,
    signatures: ref.signatures,
  };
}
