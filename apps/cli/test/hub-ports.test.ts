import { createServer, type Server } from "node:net";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

// a port held by something else, the way a system Mosquitto holds 1883
describe("kensa hub on a taken port", () => {
  let squatter: Server;
  let taken: number;
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir();
    squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, "127.0.0.1", () => r()));
    taken = (squatter.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => squatter.close(r));
    await dir.remove();
  });

  it("names the MQTT port, the likely other broker and how to choose another", async () => {
    const r = await kensa({}, "hub", "--data-dir", dir.path, "--http-port", "0", "--mqtt-port", String(taken));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("error KENSA_ERR_PORT_IN_USE: mqtt listener");
    expect(r.stderr).toContain(`port ${taken} on 127.0.0.1 is already in use`);
    expect(r.stderr).toContain("another MQTT broker");
    expect(r.stderr).toContain("--mqtt-port");
    expect(r.stderr).toContain("mqtt.embedded.port");
    expect(r.stdout).not.toContain("kensa hub listening");
  }, 60_000);

  it("names the HTTP port and --http-port when the HTTP port is taken", async () => {
    const r = await kensa({}, "hub", "--data-dir", dir.path, "--http-port", String(taken), "--mqtt-port", "0");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error KENSA_ERR_PORT_IN_USE: http listener: port ${taken} on 127.0.0.1`);
    expect(r.stderr).toContain("--http-port");
    expect(r.stderr).toContain("http.port");
    expect(r.stdout).not.toContain("kensa hub listening");
  }, 60_000);
});
