import { commandWorks, findMosquittoBin, findPostgres, needService, tempDir, waitFor } from "@kensa/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { type ChaosMode, ChaosRig, modeName } from "./harness/chaos-rig.js";

/**
 * The delivery guarantee under faults, with real processes: every event a device made is
 * stored at the hub exactly once, whatever was killed, restarted, full or slow on the way.
 * Two devices publish 300 events/s each (600/s) through the agent's own outbox, link and
 * publisher; the fault strikes mid-stream; then the devices stop producing, their outboxes
 * drain (only the hub's confirmation empties them), and the hub's database is counted by
 * (device, seq) against the devices' gap-free counters.
 */
const RATE_PER_DEVICE = 300;
const FLOW_MS = 2500;

const pgUrl = await findPostgres();
const hasMosquitto = findMosquittoBin() !== null;
const skipPg = needService("PostgreSQL at 127.0.0.1:5432, database test (chaos)", pgUrl !== null);
const skipMosquitto = needService("the mosquitto binary (chaos)", hasMosquitto);
const canUnshare = commandWorks("unshare", ["-rm", "true"]);
const skipDiskFull = needService("unshare -rm (a mount namespace for the full-disk fault)", canUnshare);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let rig: ChaosRig | null = null;
let dir: Awaited<ReturnType<typeof tempDir>> | null = null;
afterEach(async () => {
  await rig?.close();
  await dir?.remove();
  rig = null;
  dir = null;
});

async function setUp(mode: ChaosMode, opts: { tmpfsMiB?: number } = {}): Promise<ChaosRig> {
  dir = await tempDir();
  rig = new ChaosRig({ dir: dir.path, mode, pgUrl, ...opts });
  await rig.start();
  await rig.enroll(2);
  for (const d of rig.devices) rig.startDevice(d, RATE_PER_DEVICE);
  // from when every device produces and its events reach the hub
  const r = rig;
  await waitFor("the devices to deliver", async () => {
    for (const d of r.devices) if ((await r.deviceStatus(d)).seq === 0) return false;
    return (await r.count()).stored > 0;
  });
  const before = await sentSoFar(rig);
  const started = Date.now();
  await sleep(FLOW_MS);
  // the fault strikes mid-stream at the rate the issue names (≥ 500 events/s)
  const rate = ((await sentSoFar(rig)) - before) / ((Date.now() - started) / 1000);
  expect(rate).toBeGreaterThanOrEqual(500);
  return rig;
}

async function sentSoFar(r: ChaosRig): Promise<number> {
  let n = 0;
  for (const d of r.devices) n += (await r.deviceStatus(d)).seq;
  return n;
}

async function expectEveryEventOnce(r: ChaosRig): Promise<void> {
  r.stopProducing();
  await r.drained(90_000);
  const c = await r.count();
  expect({ lost: c.lost, duplicated: c.duplicated, onDevices: c.onDevices }).toEqual({
    lost: 0,
    duplicated: 0,
    onDevices: 0,
  });
  expect(c.stored).toBe(c.sent);
}

const embeddedSqlite: ChaosMode = { broker: "embedded", db: "sqlite", replicas: 1 };
const mosquittoPg: ChaosMode = { broker: "mosquitto", db: "postgres", replicas: 1 };

describe("delivery under faults", () => {
  const hubModes: ChaosMode[] = [
    embeddedSqlite,
    { broker: "embedded", db: "postgres", replicas: 1 },
    { broker: "mosquitto", db: "sqlite", replicas: 1 },
    mosquittoPg,
  ];
  for (const mode of hubModes) {
    const skip = (mode.db === "postgres" && skipPg) || (mode.broker === "mosquitto" && skipMosquitto);
    it.skipIf(skip)(
      `${modeName(mode)}: the hub SIGKILLed mid-stream and restarted`,
      async () => {
        const r = await setUp(mode);
        // kill it while a commit is held up, so it holds events it took and has not stored
        const locked = r.lockEvents(2000);
        await sleep(1000);
        await r.killHub(0);
        await locked;
        await r.startHub(0);
        await expectEveryEventOnce(r);
      },
      180_000,
    );
  }

  it(`${modeName(embeddedSqlite)}: a device SIGKILLed mid-stream and restarted`, async () => {
    const r = await setUp(embeddedSqlite);
    const d = r.devices[0];
    if (!d) throw new Error("no device");
    await r.killDevice(d);
    await sleep(500);
    r.startDevice(d, RATE_PER_DEVICE);
    await sleep(1000);
    await expectEveryEventOnce(r);
  }, 180_000);

  it.skipIf(skipMosquitto)(
    "Mosquitto + SQLite: the broker SIGKILLed mid-stream and restarted",
    async () => {
      const r = await setUp({ broker: "mosquitto", db: "sqlite", replicas: 1 });
      await r.killBroker();
      await sleep(1000);
      await r.startBroker();
      await expectEveryEventOnce(r);
    },
    180_000,
  );

  it.skipIf(skipMosquitto || skipPg)(
    "Mosquitto + PostgreSQL, 2 replicas: one replica SIGKILLed mid-stream",
    async () => {
      const r = await setUp({ broker: "mosquitto", db: "postgres", replicas: 2 });
      await r.killHub(1);
      await sleep(FLOW_MS);
      await expectEveryEventOnce(r);
    },
    180_000,
  );

  it.skipIf(skipMosquitto || skipPg)(
    "Mosquitto + PostgreSQL: every database connection dropped, as a server restart does",
    async () => {
      const r = await setUp(mosquittoPg);
      expect(await r.dropDatabaseConnections()).toBeGreaterThan(0);
      await sleep(1000);
      expect(await r.dropDatabaseConnections()).toBeGreaterThanOrEqual(0);
      await expectEveryEventOnce(r);
    },
    180_000,
  );

  it.skipIf(skipMosquitto || skipPg)(
    "Mosquitto + PostgreSQL: a database that stalls for 6 s",
    async () => {
      const r = await setUp(mosquittoPg);
      await r.lockEvents(6000);
      await expectEveryEventOnce(r);
    },
    180_000,
  );

  it("embedded Aedes + SQLite: a database that stalls past its busy timeout", async () => {
    const r = await setUp(embeddedSqlite);
    await r.lockEvents(6000);
    await expectEveryEventOnce(r);
  }, 180_000);

  it.skipIf(skipDiskFull)(
    "embedded Aedes + SQLite: the hub's data disk full, then freed — degraded meanwhile, nothing lost",
    async () => {
      const r = await setUp(embeddedSqlite, { tmpfsMiB: 24 });
      // fill the hub's tmpfs to the last few hundred KiB, from inside its mount namespace
      await r.askHub(0, { type: "fill", leaveBytes: 256 * 1024 });
      await sleepUntil(async () => (await r.health()).status === "degraded", 30_000);
      const h = await r.health();
      expect(h.problems.map((p) => p.code)).toContain("KENSA_ERR_INGEST_STORAGE_FAILED");
      await sleep(1500);
      await r.askHub(0, { type: "free" });
      await sleepUntil(async () => (await r.health()).status === "ok", 30_000);
      await expectEveryEventOnce(r);
    },
    180_000,
  );
});

async function sleepUntil(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(200);
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
