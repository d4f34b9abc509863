import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { KensaClient } from "@kensa/client";
import {
  type AgentRelease,
  agentReleaseRoutes,
  type DesiredAgent,
  fleetRoutes,
  KensaError,
  projectRoutes,
} from "@kensa/contracts";
import { createHub } from "@kensa/hub";
import { repoRoot, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Logger } from "../../apps/agent/src/logger.js";
import { installAgentRelease } from "../../apps/agent/src/updates/agent-release-install.js";

/**
 * Agent updates over the air with a real hub, the launcher and real agent processes: a release
 * built from the agent's own sources under a new version is installed beside the running agent,
 * started on trial and committed once healthy; a release that exits at once is rolled back by
 * the launcher and the failure reported; tampered, mis-signed and older releases are refused
 * before anything is written into place.
 */
describe("agent updates over the air", () => {
  let dir: TempDir;
  let hub: Awaited<ReturnType<typeof createHub>>;
  let api: KensaClient;
  let launcher: ChildProcess | undefined;
  const logs: string[] = [];
  let agentBundle: Buffer;
  let enrolled: { hubUrl: string; mqttUrl: string; secret: string };
  let dataDir: string;
  const device = () => api.call(fleetRoutes.get, { params: { id: "cam-1" } });

  const upload = (version: string, bytes: Buffer) => {
    const form = new FormData();
    form.set("version", version);
    form.set("arch", "any");
    form.set("agent", new Blob([new Uint8Array(bytes)]), "kensa-agent.mjs");
    return api.call(agentReleaseRoutes.uploadAgentRelease, { upload: form });
  };
  const deploy = (id: string) =>
    api.call(agentReleaseRoutes.deployAgentRelease, { params: { id }, body: { deviceIds: ["cam-1"], tags: [] } });

  beforeAll(async () => {
    dir = await tempDir();
    // the agent's own bundle, as apps/agent/build.mjs makes it, built here to leave dist/ alone
    const out = join(dir.path, "bundle", "kensa-agent.mjs");
    await build({
      entryPoints: [join(repoRoot, "apps/agent/src/main.ts")],
      outfile: out,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "warning",
      plugins: [
        {
          name: "externals",
          setup(b) {
            b.onResolve({ filter: /^[^./]/ }, (args) =>
              args.path.startsWith("@kensa/") ? undefined : { path: args.path, external: true },
            );
          },
        },
      ],
      banner: {
        js: "import { createRequire as __kensaRequire } from 'node:module'; const require = __kensaRequire(import.meta.url);",
      },
    });
    agentBundle = readFileSync(out);
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      http: { host: "127.0.0.1", port: 0 },
      mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: 0 } },
      logLevel: "warn",
    });
    const urls = await hub.start();
    api = new KensaClient({ baseUrl: urls.httpUrl, auth: { kind: "bearer", token: hub.adminToken } });
    const project = await api.call(projectRoutes.create, {
      body: { slug: "ota", name: "OTA", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
    });
    enrolled = await api.call(fleetRoutes.enroll, { body: { projectId: project.id, id: "cam-1", tags: [] } });
    dataDir = join(dir.path, "agent");
    const configPath = join(dir.path, "agent.json");
    writeFileSync(
      configPath,
      JSON.stringify({
        deviceId: "cam-1",
        hubUrl: enrolled.hubUrl,
        mqttUrl: enrolled.mqttUrl,
        dataDir,
        sources: [],
        reportIntervalMs: 1000,
        frameUploadIntervalMs: 0,
        status: { port: 0 },
      }),
    );
    launcher = spawn(process.execPath, [join(repoRoot, "apps/agent/launcher.mjs"), "--config", configPath], {
      cwd: repoRoot,
      env: {
        ...process.env,
        KENSA_DEVICE_SECRET: enrolled.secret,
        KENSA_AGENT_TRIAL_MS: "20000",
        KENSA_LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    launcher.stdout?.on("data", (c: Buffer) => logs.push(c.toString("utf8")));
    launcher.stderr?.on("data", (c: Buffer) => logs.push(c.toString("utf8")));
    await waitFor("the installed agent reports", async () => (await device()).reported?.agentVersion === "0.1.0", {
      timeoutMs: 30_000,
    });
  }, 120_000);

  afterAll(async () => {
    if (process.env.KENSA_TEST_VERBOSE) console.log(logs.join(""));
    if (launcher && launcher.exitCode === null) {
      const exited = new Promise((r) => launcher?.once("exit", r));
      launcher.kill("SIGTERM");
      await exited;
    }
    await hub?.close();
    await dir?.remove();
  });

  it("installs a signed release beside the running agent, restarts into it and reports the new version", async () => {
    const release = await upload("0.2.0", agentBundle);
    expect(release.manifest.files[0]?.size).toBe(agentBundle.byteLength);
    expect(release.signatures).toHaveLength(1);
    await deploy(release.id);
    await waitFor(
      "the new version reports",
      async () => {
        const r = (await device()).reported;
        return r?.agentVersion === "0.2.0" && r.agentUpdate?.state === "idle";
      },
      { timeoutMs: 60_000 },
    );
    expect(JSON.parse(readFileSync(join(dataDir, "agent", "current"), "utf8")).version).toBe("0.2.0");
    expect(existsSync(join(dataDir, "agent", "trial"))).toBe(false);
    expect(logs.join("")).toContain("agent release committed");
  }, 90_000);

  it("rolls back a release that does not come up healthy and reports why", async () => {
    // a release that dies at start: the launcher must go back to 0.2.0 by itself
    const broken = await upload("0.3.0", Buffer.from("process.exit(3);\n"));
    await deploy(broken.id);
    await waitFor("the rollback is reported", async () => (await device()).reported?.agentUpdate?.state === "failed", {
      timeoutMs: 60_000,
    });
    const reported = (await device()).reported;
    expect(reported?.agentVersion).toBe("0.2.0");
    expect(reported?.agentUpdate).toMatchObject({ version: "0.3.0", error: { code: "KENSA_ERR_AGENT_UPDATE_FAILED" } });
    expect(reported?.agentUpdate?.error?.message).toContain("code 3");
    expect(JSON.parse(readFileSync(join(dataDir, "agent", "current"), "utf8")).version).toBe("0.2.0");
  }, 90_000);

  describe("refusals (the agent's installer against the same hub)", () => {
    let other: Server | undefined;
    afterAll(() => other?.close());

    const install = async (ref: DesiredAgent, runningVersion = "0.2.0") => {
      const stateDir = join(dir.path, "refusals", "agent");
      const err = await installAgentRelease(
        {
          stateDir,
          dataDir: join(dir.path, "refusals"),
          deviceId: "cam-1",
          secret: enrolled.secret,
          hubUrl: enrolled.hubUrl,
          runningVersion,
          logger: new Logger("error"),
        },
        ref,
      ).catch((e: unknown) => e);
      expect(existsSync(join(stateDir, "next"))).toBe(false);
      expect(existsSync(join(stateDir, "releases", ref.version))).toBe(false);
      return err as KensaError;
    };
    const refOf = (r: AgentRelease): DesiredAgent => ({
      version: r.manifest.version,
      manifestSha256: r.id,
      url: `${enrolled.hubUrl}/api/v1/agent-releases/${r.id}/manifest`,
      fileUrl: `${enrolled.hubUrl}/api/v1/agent-releases/${r.id}/files/{sha256}`,
      signatures: r.signatures,
    });

    it("refuses a release signed for other bytes, a tampered file and an older version; nothing is written", async () => {
      const a = await upload("0.4.0", Buffer.from("console.log('a');\n"));
      const b = await upload("0.4.1", Buffer.from("console.log('b');\n"));
      // b's manifest with a's signatures: a valid signature over other bytes
      const swapped = await install({ ...refOf(b), signatures: a.signatures });
      expect(swapped).toBeInstanceOf(KensaError);
      expect(swapped.code).toBe("KENSA_ERR_AGENT_RELEASE_INVALID");
      expect((await install({ ...refOf(b), signatures: [] })).code).toBe("KENSA_ERR_AGENT_RELEASE_INVALID");
      // a file of the same size served by someone else, not matching the signed manifest
      other = createServer((_req, res) => res.end("console.log('x');\n"));
      await new Promise<void>((r) => other?.listen(0, "127.0.0.1", r));
      const evil = `http://127.0.0.1:${(other.address() as AddressInfo).port}/{sha256}`;
      const tampered = await install({ ...refOf(a), fileUrl: evil });
      expect(tampered.code).toBe("KENSA_ERR_AGENT_RELEASE_INVALID");
      expect(tampered.message).toContain("does not match");
      // a properly signed but older release: a replay
      const old = await upload("0.1.5", Buffer.from("console.log('old');\n"));
      expect((await install(refOf(old))).code).toBe("KENSA_ERR_AGENT_RELEASE_ROLLBACK");
    }, 30_000);
  });
});
