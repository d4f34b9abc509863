import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { KensaClient } from "@kensa/client";
import { type EnrolledDevice, fleetRoutes } from "@kensa/contracts";
import { type AgentProcess, spawnAgent } from "./agent-process.js";

/** One agent of a scenario: its device's credentials, its config and its running process. */
export interface ScenarioAgent {
  id: string;
  secret: string;
  /** the agent's configuration, as written to `configPath` */
  config: Record<string, unknown>;
  configPath: string;
  /** the running process; restart() replaces it */
  process: AgentProcess;
  /** starts the agent again with the same config and data (e.g. after a kill); resolves with the new process */
  restart(): Promise<AgentProcess>;
}

export interface AgentOptions {
  /** the scenario's directory: an agent keeps its data in `<dir>/agent-<id>` and its config in `<dir>/<id>.json` */
  dir: string;
  /** where frames come from; one synthetic camera (seed 1) when omitted */
  sources?: Array<Record<string, unknown>>;
  /** more agent configuration (intervals, …) over the scenario's (status page on a free port) */
  config?: Record<string, unknown>;
  /** the process's environment besides KENSA_DEVICE_SECRET (KENSA_LOG_LEVEL, malloc settings, …) */
  env?: Record<string, string>;
  /** run the installed executable (the bundled agent, as a device runs it) instead of the TypeScript sources */
  built?: boolean;
}

/** Where an agent connects and who it is: what enrolling its device answered. */
export interface AgentCredentials {
  deviceId: string;
  secret: string;
  hubUrl: string;
  mqttUrl: string;
}

/**
 * A synthetic camera source filming brushed metal with defects in `defectRate` of frames;
 * `hard` adds the generator's hardness options (faint defects, lighting drift, texture, blur, noise).
 */
export function syntheticCamera(
  seed: number,
  opts: {
    fps?: number;
    defectRate?: number;
    hard?: { faint?: number; drift?: number; texture?: number; blur?: number; noise?: number };
  } = {},
): Record<string, unknown> {
  return {
    id: "synthetic",
    type: "synthetic",
    fps: opts.fps ?? 5,
    seed,
    defectRate: opts.defectRate ?? 0.3,
    ...opts.hard,
  };
}

/** Starts a real agent process for an enrolled device. */
export async function startScenarioAgent(device: AgentCredentials, opts: AgentOptions): Promise<ScenarioAgent> {
  await mkdir(opts.dir, { recursive: true });
  const config: Record<string, unknown> = {
    deviceId: device.deviceId,
    hubUrl: device.hubUrl,
    mqttUrl: device.mqttUrl,
    dataDir: join(opts.dir, `agent-${device.deviceId}`),
    sources: opts.sources ?? [syntheticCamera(1)],
    status: { port: 0 },
    ...opts.config,
  };
  const configPath = join(opts.dir, `${device.deviceId}.json`);
  const spawn = () =>
    spawnAgent(config, configPath, { ...opts.env, KENSA_DEVICE_SECRET: device.secret }, { built: opts.built });
  const agent: ScenarioAgent = {
    id: device.deviceId,
    secret: device.secret,
    config,
    configPath,
    process: await spawn(),
    restart: async () => {
      agent.process = await spawn();
      return agent.process;
    },
  };
  return agent;
}

/** A device to enroll, and its agent's sources when they differ from the scenario's. */
export interface AgentDevice {
  id: string;
  name?: string;
  tags?: string[];
  sources?: Array<Record<string, unknown>>;
}

/** Credentials of an enrolled device as an agent needs them. */
export function credentialsOf(enrolled: EnrolledDevice): AgentCredentials {
  return { deviceId: enrolled.device.id, secret: enrolled.secret, hubUrl: enrolled.hubUrl, mqttUrl: enrolled.mqttUrl };
}

/**
 * Enrolls each device in the project and starts its agent, one after another. When one fails,
 * the agents already started are killed before the error is thrown, so none outlives the call.
 */
export async function enrollAgents(
  client: KensaClient,
  projectId: string,
  devices: readonly AgentDevice[],
  opts: AgentOptions,
): Promise<ScenarioAgent[]> {
  const agents: ScenarioAgent[] = [];
  try {
    for (const d of devices) {
      const enrolled = await client.call(fleetRoutes.enroll, {
        body: { projectId, id: d.id, tags: d.tags ?? [], ...(d.name ? { name: d.name } : {}) },
      });
      agents.push(await startScenarioAgent(credentialsOf(enrolled), { ...opts, sources: d.sources ?? opts.sources }));
    }
  } catch (err) {
    await Promise.all(agents.map((a) => a.process.kill("SIGKILL")));
    throw err;
  }
  return agents;
}
