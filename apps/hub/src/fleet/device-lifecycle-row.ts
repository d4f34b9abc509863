import type { Device, Reported, Telemetry } from "@kensa/contracts";
import type { Selectable } from "kysely";
import type { DevicesTable } from "../db/schema.js";

// A device row as the API shows it, with its lifecycle state (revoked, retired).

/**
 * Events a device made that are not a gap although the hub holds no row in `events` for them:
 * those it deleted unsent on a full disk and those the hub refused for good (kept in
 * `rejected_events`), as the agent reports them.
 */
export function accountedOnDevice(reported: Reported | null): number {
  return (reported?.eventsDropped ?? 0) + (reported?.eventsRejected ?? 0);
}

/** Events a device's sequence says were sent and the hub does not hold (never below 0). */
export function missingEvents(
  row: Pick<Selectable<DevicesTable>, "events_stored" | "events_max_seq">,
  dropped: number,
): number {
  return Math.max(0, Number(row.events_max_seq) - Number(row.events_stored) - dropped);
}

/** A stored row as selected, or as built for an insert (whose later columns may be absent). */
export function toDevice(row: Selectable<DevicesTable> | DevicesTable): Device {
  const reported = row.reported ? (JSON.parse(row.reported) as Reported) : null;
  return {
    id: row.id,
    name: row.name,
    projectId: row.project_id,
    arch: row.arch,
    tags: JSON.parse(row.tags) as string[],
    presence: row.presence as Device["presence"],
    lastSeenAt: row.last_seen_at,
    revokedAt: row.revoked_at,
    retiredAt: row.retired_at ?? null,
    description: row.description ?? null,
    brokerAccount:
      row.broker_account === "needs_rotation" ? "needs-rotation" : row.broker_account === "pending" ? "pending" : "ok",
    reported,
    telemetry: row.telemetry ? (JSON.parse(row.telemetry) as Telemetry) : null,
    desiredRev: Number(row.desired_rev),
    createdAt: row.created_at,
    events: {
      stored: Number(row.events_stored),
      maxSeq: Number(row.events_max_seq),
      missing: missingEvents(row, accountedOnDevice(reported)),
    },
  };
}
