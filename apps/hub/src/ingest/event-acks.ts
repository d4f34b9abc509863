import type { Event, EventAcks } from "@kensa/contracts";

/** An event the hub refuses for good: kept with its reason, confirmed to the device as rejected. */
export interface Rejection {
  deviceId: string;
  seq: number;
  eventId: string | null;
  code: string;
  reason: string;
  payload: string;
}

/** One confirmation per device for what a batch committed: the seqs stored and those refused. */
export function acksByDevice(stored: readonly Event[], rejections: readonly Rejection[]): Map<string, EventAcks> {
  const perDevice = new Map<string, EventAcks>();
  const of = (deviceId: string) => {
    let a = perDevice.get(deviceId);
    if (!a) {
      a = { v: 1, stored: [], rejected: [] };
      perDevice.set(deviceId, a);
    }
    return a;
  };
  for (const e of stored) of(e.deviceId).stored.push(e.seq);
  for (const r of rejections) of(r.deviceId).rejected.push({ seq: r.seq, code: r.code, reason: r.reason });
  return perDevice;
}
