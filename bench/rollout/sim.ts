/**
 * A process of simulated devices for the rollout bench (`node --import tsx sim.ts`), so the
 * devices' downloads and hashing do not share the hub's event loop. Told `start` with its
 * devices, it connects them and answers `ready` once each holds its retained desired state;
 * `collect` answers with every device's result; `close` disconnects and exits.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { type DeviceResult, type SimDeviceSpec, SimulatedDevice } from "./sim-device.js";

export interface SimStart {
  type: "start";
  devices: SimDeviceSpec[];
  /** ids of the devices whose first model download is cut part-way */
  cut: string[];
  /** fraction of the model after which a cut device's connection drops */
  cutAt: number;
  mqttUrl: string;
  hubUrl: string;
  /** where this process keeps its devices' bundle stores (tmpfs: the bench measures the network) */
  dir: string;
}

export type SimMessage =
  | { type: "ready"; pid: number; connectMs: number }
  | { type: "results"; results: DeviceResult[] }
  | { type: "failed"; error: string };

const send = (m: SimMessage) => process.send?.(m);
let devices: SimulatedDevice[] = [];
let dir = "";

async function start(m: SimStart): Promise<void> {
  dir = m.dir;
  const cut = new Set(m.cut);
  const t0 = Date.now();
  devices = m.devices.map(
    (d) =>
      new SimulatedDevice(d, {
        mqttUrl: m.mqttUrl,
        hubUrl: m.hubUrl,
        dir: join(m.dir, d.id),
        ...(cut.has(d.id) ? { cutAt: m.cutAt } : {}),
      }),
  );
  // devices come online in waves, as a fleet powering up does, not in one SYN flood
  for (let i = 0; i < devices.length; i += 50) {
    await Promise.all(
      devices.slice(i, i + 50).map(async (d, k) => {
        await mkdir(join(m.dir, m.devices[i + k]!.id), { recursive: true });
        await d.start();
      }),
    );
  }
  send({ type: "ready", pid: process.pid, connectMs: Date.now() - t0 });
}

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
  if (dir) await rm(dir, { recursive: true, force: true });
  process.exit(0);
}

process.on("message", (m: { type?: string }) => {
  if (m.type === "start")
    start(m as SimStart).catch((err: unknown) => send({ type: "failed", error: (err as Error).stack ?? String(err) }));
  if (m.type === "collect") send({ type: "results", results: devices.map((d) => d.result) });
  if (m.type === "close") void close();
});
process.on("disconnect", () => void close());
process.on("SIGTERM", () => void close());
