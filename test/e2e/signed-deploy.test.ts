import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { fleetRoutes } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import {
  adminClient,
  createInspectionProject,
  credentialsOf,
  deployToDevices,
  pushBlemishModel,
  type ScenarioAgent,
  type ScenarioHub,
  startScenarioAgent,
  startScenarioHub,
  syntheticCamera,
} from "@kensa/scenario";
import { type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTamperProxy, type TamperProxy } from "./signing-fixture.js";

/**
 * A real hub and a real agent process: the agent is given the hub's trust root from its
 * enrollment, reaches the hub's HTTP side through a proxy that can play the attacker, swaps in a
 * signed bundle, keeps its model when a bundle's signature was tampered with (reporting the
 * coded reason to the hub), and takes the same bundle once it arrives signed.
 */
describe("signed deployments to a real agent", () => {
  let dir: TempDir;
  let hub: ScenarioHub<Hub>;
  let api: KensaClient;
  let proxy: TamperProxy;
  let agent: ScenarioAgent | undefined;

  const pipelineOf = async () =>
    (await api.call(fleetRoutes.get, { params: { id: "cam-signed" } })).reported?.pipelines.find(
      (p) => p.id === "default",
    );

  beforeAll(async () => {
    dir = await tempDir();
    // the hub tells devices to fetch bundles from the proxy (its public URL), as from a mirror
    proxy = await startTamperProxy("http://127.0.0.1:1");
    hub = await startScenarioHub({
      createHub,
      dataDir: join(dir.path, "hub"),
      config: { http: { host: "127.0.0.1", port: 0, publicUrl: proxy.url } },
    });
    const { port } = hub.hub.app.server.address() as { port: number };
    proxy.upstream = `http://127.0.0.1:${port}`;
    api = adminClient(proxy.upstream, hub.adminToken);
  }, 60_000);

  afterAll(async () => {
    if (agent) {
      const notable = agent.process.logs.filter((l) => l.level === "error" || l.level === "stderr");
      if (notable.length) console.log(notable.map((l) => JSON.stringify(l)).join("\n"));
      await agent.process.kill("SIGKILL");
    }
    await proxy?.close();
    await hub?.close();
    await dir?.remove();
  });

  it("swaps a signed bundle in, keeps the old model on a tampered signature and reports why", async () => {
    const project = await createInspectionProject(api, { slug: "signed-e2e", name: "Signed" });
    const v1 = await pushBlemishModel(api, project.id, { width: 32, height: 32, fileName: "v1.onnx" });
    const v2 = await pushBlemishModel(api, project.id, { width: 48, height: 48, fileName: "v2.onnx" });
    const enrolled = await api.call(fleetRoutes.enroll, {
      body: { projectId: project.id, id: "cam-signed", tags: [] },
    });
    const rootFile = join(dir.path, "trust-root.json");
    await writeFile(rootFile, JSON.stringify(enrolled.trust));
    agent = await startScenarioAgent(
      { ...credentialsOf(enrolled), hubUrl: proxy.url },
      {
        dir: dir.path,
        sources: [syntheticCamera(3, { fps: 4 })],
        config: {
          reportIntervalMs: 1000,
          telemetryIntervalMs: 1000,
          bundleSigning: { trustRoot: rootFile, require: true },
        },
      },
    );
    expect(existsSync(join(String(agent.config.dataDir), "trust.json"))).toBe(false);

    const d1 = await deployToDevices(api, v1.id, ["cam-signed"]);
    await waitFor("v1 loaded", async () => {
      const p = await pipelineOf();
      return p?.status === "loaded" && p.bundle?.sha256 === d1.bundleSha256;
    });
    expect(existsSync(join(String(agent.config.dataDir), "trust.json"))).toBe(true);

    // a mirror that changes one character of every signature
    proxy.tamper = {
      signatures: (r) => ({
        ...r,
        signatures: r.signatures.map((s) => ({ ...s, sig: (s.sig[0] === "A" ? "B" : "A") + s.sig.slice(1) })),
      }),
    };
    const d2 = await deployToDevices(api, v2.id, ["cam-signed"]);
    const refused = await waitFor("the tampered bundle refused", async () => {
      const p = await pipelineOf();
      return p?.error?.bundleSha256 === d2.bundleSha256 ? p : null;
    });
    expect(refused.error?.code).toBe("KENSA_ERR_BUNDLE_SIGNATURE_INVALID");
    expect(refused.status).toBe("loaded");
    expect(refused.bundle?.sha256).toBe(d1.bundleSha256);
    const modelDir = join(String(agent.config.dataDir), "bundles", d2.bundleSha256);
    expect(existsSync(modelDir)).toBe(false);

    // the same bundle, signed as the hub signed it, is taken
    proxy.tamper = {};
    await deployToDevices(api, v2.id, ["cam-signed"]);
    await waitFor("v2 loaded", async () => {
      const p = await pipelineOf();
      return p?.status === "loaded" && p.bundle?.sha256 === d2.bundleSha256 && !p.error;
    });
  }, 120_000);
});
