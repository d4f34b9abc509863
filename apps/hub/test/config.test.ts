import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { KensaError } from "@kensa/contracts";
import { tempDir } from "@kensa/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { createHub, loadHubConfig, parseHubConfig } from "../src/index.js";

function codeOf(fn: () => unknown): { code: string; message: string; paths: string[] } {
  try {
    fn();
  } catch (err) {
    const e = err as KensaError;
    const issues = (e.details as { issues?: Array<{ path: string }> } | undefined)?.issues ?? [];
    return { code: e.code, message: e.message, paths: issues.map((i) => i.path) };
  }
  throw new Error("expected an error");
}

describe("hub config", () => {
  it("fills defaults and freezes", () => {
    const c = parseHubConfig({});
    expect(c.dataDir).toBe(".kensa/hub");
    expect(c.http).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(c.mqtt.embedded).toEqual({ enabled: true, host: "127.0.0.1", port: 1883 });
    expect(c.database).toEqual({ type: "sqlite" });
    expect(c.notifications).toEqual({ attempts: 3, backoffMs: 500, leaseMs: 60_000 });
    expect(c.limits).toMatchObject({
      modelBytes: 200 * 1024 * 1024,
      mediaBytes: 10 * 1024 * 1024,
      clipBytes: 64 * 1024 * 1024,
      jsonBodyBytes: 1024 * 1024,
      mqttPacketBytes: 2 * 1024 * 1024,
      eventBytes: 1024 * 1024,
      metaBytes: 16 * 1024,
      imagePixels: 8192 * 8192,
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.http)).toBe(true);
  });

  it("rejects unknown keys, naming the key path", () => {
    const e = codeOf(() => parseHubConfig({ http: { prot: 8080 } }));
    expect(e.code).toBe("KENSA_ERR_CONFIG_INVALID");
    expect(e.paths).toContain("/http/prot");
    expect(e.message).toContain("/http/prot");
    expect(codeOf(() => parseHubConfig({ smtpp: {} })).paths).toContain("/smtpp");
  });

  it("names the path of a wrong type or value", () => {
    expect(codeOf(() => parseHubConfig({ mqtt: { embedded: { port: "x" } } })).paths).toContain("/mqtt/embedded/port");
    expect(codeOf(() => parseHubConfig({ http: { port: 70000 } })).paths).toContain("/http/port");
    expect(codeOf(() => parseHubConfig({ notifications: { attempts: 0 } })).paths).toContain("/notifications/attempts");
  });

  it("names the key inside the chosen database variant", () => {
    expect(codeOf(() => parseHubConfig({ database: { type: "sqlite", url: "x" } })).paths).toEqual(["/database/url"]);
    expect(codeOf(() => parseHubConfig({ database: { type: "postgres" } })).paths).toContain("/database/url");
    expect(parseHubConfig({ database: { type: "sqlite", path: ":memory:" } }).database).toEqual({
      type: "sqlite",
      path: ":memory:",
    });
  });

  it("requires an external broker url when the embedded one is off", () => {
    const e = codeOf(() => parseHubConfig({ mqtt: { embedded: { enabled: false } } }));
    expect(e.code).toBe("KENSA_ERR_CONFIG_INVALID");
    expect(e.paths).toEqual(["/mqtt/url"]);
    expect(parseHubConfig({ mqtt: { embedded: { enabled: false }, url: "mqtt://broker:1883" } }).mqtt.url).toBe(
      "mqtt://broker:1883",
    );
  });

  it("loads a file, merges overrides and takes the admin token and log level from env", async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.path, "hub.json");
      await writeFile(file, JSON.stringify({ http: { port: 9000, host: "127.0.0.1" }, logLevel: "warn" }));
      const c = await loadHubConfig(
        file,
        { KENSA_ADMIN_TOKEN: "t".repeat(20), KENSA_LOG_LEVEL: "debug" },
        {
          http: { port: 9001 },
        },
      );
      expect(c.http).toEqual({ host: "127.0.0.1", port: 9001 });
      expect(c.adminToken).toBe("t".repeat(20));
      expect(c.logLevel).toBe("warn");

      await writeFile(file, "{ not json");
      await expect(loadHubConfig(file, {})).rejects.toMatchObject({ code: "KENSA_ERR_CONFIG_INVALID" });
      await expect(loadHubConfig(join(dir.path, "missing.json"), {})).rejects.toMatchObject({
        code: "KENSA_ERR_CONFIG_INVALID",
      });
      await writeFile(file, JSON.stringify({ mqtt: { embeded: {} } }));
      await expect(loadHubConfig(file, {})).rejects.toThrow("/mqtt/embeded");
    } finally {
      await dir.remove();
    }
  });
});

describe("ports", () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });
  const occupy = async (): Promise<number> => {
    const s = createServer();
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    return (s.address() as { port: number }).port;
  };

  for (const which of ["http", "mqtt"] as const) {
    it(`start() fails with KENSA_ERR_PORT_IN_USE naming the ${which} listener and releases everything`, async () => {
      const dir = await tempDir();
      const taken = await occupy();
      const hub = await createHub({
        dataDir: dir.path,
        logLevel: "silent",
        http: { host: "127.0.0.1", port: which === "http" ? taken : 0 },
        mqtt: { embedded: { host: "127.0.0.1", port: which === "mqtt" ? taken : 0 } },
      });
      try {
        const err = (await hub.start().catch((e: unknown) => e)) as KensaError;
        expect(err).toBeInstanceOf(KensaError);
        expect(err.code).toBe("KENSA_ERR_PORT_IN_USE");
        expect(err.message).toContain(`${which} listener`);
        expect(err.message).toContain(String(taken));
      } finally {
        await hub.close();
        await dir.remove();
      }
    });
  }
});
