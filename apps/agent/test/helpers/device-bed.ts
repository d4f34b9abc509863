import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll } from "vitest";
import { startBroker, type TestBroker } from "./broker.js";
import { startHubHttp, type TestHub } from "./hub-http.js";
import { type DeviceWatcher, watchDevice } from "./watcher.js";

/** What an agent test runs against: a real broker with the device's ACL, the hub's HTTP side, a watcher of its topics. */
export interface DeviceBed {
  broker: TestBroker;
  hub: TestHub;
  watcher: DeviceWatcher;
  dir: TempDir;
}

/**
 * Starts a DeviceBed before the describe block's tests and tears it down after them. Register
 * the test's own afterAll (stopping its agent) after calling this: after-hooks unwind as a
 * stack, so the agent stops before the broker and hub go.
 */
export function deviceBed(deviceId: string, secret: string): DeviceBed {
  const bed = {} as DeviceBed;
  beforeAll(async () => {
    bed.dir = await tempDir();
    bed.broker = await startBroker({ [deviceId]: secret, hub: "hub" });
    bed.hub = await startHubHttp(deviceId, secret);
    bed.watcher = await watchDevice(bed.broker.url, deviceId, "hub", "hub");
  });
  afterAll(async () => {
    await bed.watcher?.close();
    await bed.broker?.close();
    await bed.hub?.stop();
    await bed.dir?.remove();
  });
  return bed;
}
