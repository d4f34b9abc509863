import { fleetRoutes } from "@kensa/contracts";
import { useEffect } from "react";
import { useQuery } from "../../api/use-query";
import { recordTelemetry } from "./telemetry-history";

/** ms between fleet polls; agents send telemetry every few seconds, faster adds nothing */
export const FLEET_POLL_MS = 3000;

/** The project's devices (all when undefined), polled, each poll feeding the telemetry history. */
export function useDevices(projectId: string | undefined, intervalMs = FLEET_POLL_MS) {
  const q = useQuery(fleetRoutes.list, { query: { projectId } }, { intervalMs });
  useEffect(() => {
    if (q.data) recordTelemetry(q.data.items);
  }, [q.data]);
  return q;
}
