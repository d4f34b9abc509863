import { KensaClient } from "@kensa/client";
import { deviceConfigRoutes } from "@kensa/contracts";
import { type AgentDeps, type RunningAgent, startAgent } from "../agent.js";
import type { AgentConfig } from "../config.js";
import { Logger } from "../logger.js";
import { readAgentTls, tlsFetch } from "../uplink/agent-tls.js";
import { layerConfig } from "./effective-config.js";
import { RemoteConfig } from "./remote-config.js";
import { RemoteConfigStore, type StoredRemoteConfig } from "./remote-config-store.js";

/**
 * Runs an agent that follows the hub's remote config: starts it on agent.json laid under the
 * remote config kept in the data dir (so an agent that restarts offline runs what it ran), then
 * applies new revisions live or, for keys that need it, by stopping its components and starting
 * them again in this process. The returned handle always speaks for the agent running now.
 */
export async function runAgent(base: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const log = (deps.logger ?? new Logger()).child({ deviceId: base.deviceId });
  const store = new RemoteConfigStore(base.dataDir);
  let initial: StoredRemoteConfig | undefined;
  let start = { config: base, overridden: [] as string[] };
  try {
    initial = base.remoteConfig ? store.read() : undefined;
    if (initial) start = layerConfig(base, initial.config);
  } catch (err) {
    // a kept config this agent cannot run (edited by hand, an older agent): agent.json alone, the hub resends
    log.error("ignoring the kept remote config", { path: store.path, err: (err as Error).message });
    initial = undefined;
  }
  const tls = readAgentTls(base.tls);
  const hub = new KensaClient({
    baseUrl: base.hubUrl,
    auth: { kind: "device", deviceId: base.deviceId, secret: base.secret },
    ...(tls ? { fetch: tlsFetch(tls) } : {}),
  });
  const remote = new RemoteConfig({
    base,
    store,
    initial,
    overridden: start.overridden,
    fetchConfig: (signal) => hub.call(deviceConfigRoutes.getDeliveredConfig, { params: { id: base.deviceId }, signal }),
    logger: log,
  });
  const withRemote: AgentDeps = { ...deps, remoteConfig: remote };
  let agent = await startAgent(start.config, withRemote);
  let switching: Promise<void> | undefined;
  remote.attach({
    running: () => agent.config,
    applyLive: (next) => agent.applyLive(next),
    restart: async (next) => {
      const restart = async () => {
        const previous = agent.config;
        await agent.stop();
        try {
          agent = await startAgent(next, withRemote);
        } catch (err) {
          // the new config did not start: back to the one that ran, and the caller refuses the new one
          agent = await startAgent(previous, withRemote);
          throw err;
        }
      };
      switching = restart();
      try {
        await switching;
      } finally {
        switching = undefined;
      }
    },
  });
  let stopping: Promise<void> | undefined;
  return {
    get config() {
      return agent.config;
    },
    agentVersion: agent.agentVersion,
    get statusUrl() {
      return agent.statusUrl;
    },
    stats: () => agent.stats(),
    reported: () => agent.reported(),
    telemetry: () => agent.telemetry(),
    applyLive: (next) => agent.applyLive(next),
    stop: () => {
      stopping ??= (async () => {
        await switching?.catch(() => {});
        await remote.stop();
        await switching?.catch(() => {});
        await agent.stop();
      })();
      return stopping;
    },
  };
}
