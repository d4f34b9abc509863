import type { FederationStatus } from "@kensa/contracts";

/** A status before any sync: nothing pushed or pulled, the uplink not yet tried. */
export function initialStatus(
  role: FederationStatus["role"],
  centralUrl: string | null,
  siteId: string | null,
): FederationStatus {
  return {
    role,
    centralUrl,
    siteId,
    uplink: "unknown",
    downSince: null,
    lastSyncAt: null,
    lastError: null,
    pushed: { incidents: 0, verdicts: 0, frames: 0, samples: 0, rollouts: 0 },
    pulled: { models: 0, rollouts: 0 },
  };
}
