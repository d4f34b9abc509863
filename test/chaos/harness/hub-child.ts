/**
 * One hub as its own process, for faults a process can suffer (SIGKILL, a full disk in its own
 * mount namespace): `node --import tsx hub-child.ts <config JSON>`. Sends `started` with its
 * addresses and admin token over IPC; ends on SIGTERM or when its parent goes.
 *
 * A hub in a mount namespace of its own is the only process that sees its data dir, so the test
 * asks it over IPC to fill and free its disk (`fill`, `free`) and for the stored events (`rows`).
 */
import { join } from "node:path";
import { createHub } from "@kensa/hub";
import Database from "better-sqlite3";
import { fillDisk, freeDisk } from "./disk.js";

const config = JSON.parse(process.argv[2] ?? "{}") as { dataDir: string } & Record<string, unknown>;
const hub = await createHub(config, {});
const addresses = await hub.start();
process.send?.({ type: "started", ...addresses, adminToken: hub.adminToken, pid: process.pid });

let closing = false;
const close = async () => {
  if (closing) return;
  closing = true;
  await hub.close().catch(() => undefined);
  process.exit(0);
};
process.on("message", (m: { type?: string; leaveBytes?: number }) => {
  const reply = (body: Record<string, unknown>) => process.send?.({ type: `${m.type}:done`, ...body });
  if (m.type === "fill") void fillDisk(config.dataDir, m.leaveBytes ?? 0).then(() => reply({}));
  if (m.type === "free") void freeDisk(config.dataDir).then(() => reply({}));
  if (m.type === "rows") {
    const db = new Database(join(config.dataDir, "kensa.db"), { readonly: true });
    try {
      reply({ rows: db.prepare("SELECT device_id, seq FROM events").all() });
    } finally {
      db.close();
    }
  }
});
process.on("disconnect", () => void close());
process.on("SIGTERM", () => void close());
