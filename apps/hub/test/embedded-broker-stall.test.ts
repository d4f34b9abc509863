import mqtt, { type MqttClient } from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { EmbeddedBroker } from "../src/ingest/embedded-broker.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const HUB = { username: "kensa-hub", password: "hub-secret" };

async function connect(port: number, clientId: string): Promise<MqttClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    ...HUB,
    clientId,
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  return client;
}

/**
 * A subscriber that stops reading its socket (a device on a stalled link, a process frozen in a
 * debugger) must not hold up delivery to anyone else. With Aedes's default global limit of 100
 * waiting deliveries it did: the stalled socket's deliveries filled every slot and all other
 * messages queued behind them; draining that queue later recursed once per message and a long
 * queue overflowed the stack, killing the hub.
 */
describe("embedded broker with a stalled subscriber", () => {
  let broker: EmbeddedBroker | null = null;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await broker?.close();
    broker = null;
  });

  it("keeps delivering to other clients and survives the drain", async () => {
    broker = new EmbeddedBroker({
      host: "127.0.0.1",
      port: 0,
      hubUsername: HUB.username,
      hubPassword: HUB.password,
      verifyDevice: async () => false,
      log: quiet,
    });
    const port = await broker.listen();
    const stalled = await connect(port, "stalled");
    const healthy = await connect(port, "healthy");
    const publisher = await connect(port, "publisher");
    clients.push(stalled, healthy, publisher);
    await stalled.subscribeAsync("t/stalled", { qos: 0 });
    await healthy.subscribeAsync("t/healthy", { qos: 0 });

    // the stalled client stops reading: its socket buffers fill and deliveries to it wait
    (stalled.stream as unknown as { pause(): void }).pause();
    const big = Buffer.alloc(256 * 1024, 7);
    for (let i = 0; i < 400; i++) publisher.publish("t/stalled", big, { qos: 0 });
    // plenty of messages nobody subscribed to, queued behind the stalled deliveries if any limit applies
    for (let i = 0; i < 30_000; i++) publisher.publish("t/nobody", `n${i}`, { qos: 0 });

    const got = new Promise<string>((resolve) => healthy.once("message", (_t, payload) => resolve(payload.toString())));
    publisher.publish("t/healthy", "still moving", { qos: 0 });
    const first = await Promise.race([got, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    expect(first).toBe("still moving");

    // the stalled client reads again: everything queued drains without taking the broker down
    const stalledGot = new Promise<void>((resolve) => {
      let n = 0;
      stalled.on("message", () => {
        if (++n === 400) resolve();
      });
    });
    (stalled.stream as unknown as { resume(): void }).resume();
    await stalledGot;
    const after = new Promise<string>((resolve) =>
      healthy.once("message", (_t, payload) => resolve(payload.toString())),
    );
    publisher.publish("t/healthy", "after the drain", { qos: 0 });
    expect(await after).toBe("after the drain");
  }, 60_000);
});
