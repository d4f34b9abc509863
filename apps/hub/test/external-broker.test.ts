import { type AddressInfo, createServer } from "node:net";
import { type Desired, topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent, nextMessage, seed, startHub, type TestHub } from "./helpers.js";

/**
 * With the embedded broker off, the hub is just another client of an external broker (here a
 * separate Aedes with no auth, standing in for Mosquitto): ingest and desired state still work,
 * and since that broker lets anyone publish, the ingest's own checks are what stand.
 */
describe("external broker", () => {
  let aedes: Aedes;
  let server: ReturnType<typeof createServer>;
  let url: string;
  let t: TestHub;

  beforeAll(async () => {
    aedes = await Aedes.createBroker();
    server = createServer(aedes.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await startHub({ mqtt: { embedded: { enabled: false }, url } });
  });
  afterAll(async () => {
    await t.close();
    await new Promise<void>((r) => aedes.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("ingests through it, counts unknown devices and publishes desired state to it", async () => {
    expect(t.mqttUrl).toBe(url);
    expect(t.hub.broker).toBeNull();
    await seed(t.call, "ext", [{ id: "ext-1" }]);

    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    try {
      const desired = nextMessage(c, topics.desired("ext-1"));
      await c.subscribeAsync(topics.desired("ext-1"), { qos: 1 });
      expect((JSON.parse((await desired).payload.toString()) as Desired).rev).toBe(0);

      const ev = makeEvent("ext-1", { label: "defect", score: 0.9 });
      await c.publishAsync(topics.events("ext-1"), JSON.stringify(ev), { qos: 1 });
      await c.publishAsync(topics.events("stranger"), JSON.stringify(makeEvent("stranger")), { qos: 1 });
      await waitFor("stored + unknown", () => {
        const k = t.hub.ingest.counters;
        return k.stored === 1 && k.unknownDevice === 1;
      });
      expect((await t.call("GET", `/api/v1/events/${ev.id}`)).status).toBe(200);
    } finally {
      await c.endAsync(true);
    }
  });
});
