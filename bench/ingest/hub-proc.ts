/**
 * One hub as its own process, so its CPU time is its own: `node --import tsx hub-proc.ts <config JSON>`.
 * Sends `started` with its addresses, answers `counters` with what ingest counted, ends on `close`.
 */
import { createHub } from "@kensa/hub";

export type HubProcMessage =
  | { type: "started"; httpUrl: string; mqttUrl: string; adminToken: string; pid: number }
  | { type: "counters"; counters: Record<string, number> };

const send = (m: HubProcMessage) => process.send?.(m);
const hub = await createHub(JSON.parse(process.argv[2] ?? "{}") as Record<string, unknown>, {});
const addresses = await hub.start();
send({ type: "started", ...addresses, adminToken: hub.adminToken, pid: process.pid });

let closing = false;
const close = async () => {
  if (closing) return;
  closing = true;
  await hub.close().catch(() => undefined);
  process.exit(0);
};
process.on("message", (m: { type?: string }) => {
  if (m.type === "counters") send({ type: "counters", counters: { ...hub.ingest.counters } });
  if (m.type === "close") void close();
});
// the bench died: never outlive it
process.on("disconnect", () => void close());
process.on("SIGTERM", () => void close());
