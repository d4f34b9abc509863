import type { Deployment, Device } from "@kensa/contracts";

export type ConvergenceState = "pending" | "loading" | "loaded" | "error" | "superseded";

export interface DeviceConvergence {
  deviceId: string;
  state: ConvergenceState;
  /** the error code when state is "error" */
  code?: string;
  message?: string;
  /** the bundle the device reports for the deployment's pipeline */
  reportedSha?: string;
  online: boolean;
}

/**
 * Where each targeted device stands with a deployment, from what it reports: loaded with the
 * target sha, loading, failed on the target sha (the agent keeps running the previous bundle),
 * or pending. A device that a later deployment re-targeted on the same pipeline is superseded.
 */
export function convergenceOf(
  dep: Deployment,
  devices: readonly Device[],
  later: readonly Deployment[],
): DeviceConvergence[] {
  const byId = new Map(devices.map((d) => [d.id, d]));
  return dep.deviceIds.map((deviceId) => {
    const d = byId.get(deviceId);
    const p = d?.reported?.pipelines.find((x) => x.id === dep.pipeline);
    const base = { deviceId, online: d?.presence === "online", reportedSha: p?.bundle?.sha256 };
    if (p?.bundle?.sha256 === dep.bundleSha256 && p.status === "loaded") return { ...base, state: "loaded" };
    if (later.some((x) => x.pipeline === dep.pipeline && x.deviceIds.includes(deviceId)))
      return { ...base, state: "superseded" };
    if (p?.error && p.error.bundleSha256 === dep.bundleSha256)
      return { ...base, state: "error", code: p.error.code, message: p.error.message };
    if (p?.status === "loading") return { ...base, state: "loading" };
    return { ...base, state: "pending" };
  });
}
