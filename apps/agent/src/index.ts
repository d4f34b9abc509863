export { type AgentDeps, type AgentStats, type RunningAgent, startAgent } from "./agent.js";
export { agentVersion } from "./agent-version.js";
export { runAgentCli } from "./cli.js";
export {
  type AgentConfig,
  type AgentConfigOverrides,
  AgentConfigSchema,
  FolderSourceConfig,
  FolderWatchSourceConfig,
  loadAgentConfig,
  MjpegSourceConfig,
  PushSourceConfig,
  RtspSourceConfig,
  SourceConfig,
  SyntheticSourceConfig,
  sourceConfigSchemas,
  VideoSourceConfig,
} from "./config.js";
export type { InferenceModel, InferenceOutput, ModelLoader } from "./inference/model.js";
export { Logger, type LogLevel } from "./logger.js";
export { agentServiceEnv } from "./service-env.js";
export type { Frame, FrameSource, FrameSourceEvents, SourceContext, SourceStatus } from "./sources/frame-source.js";
export { createSource, sourceFactories } from "./sources/source-registry.js";
export { type RestartPolicy, Supervisor } from "./supervisor.js";
export { type AgentTls, type AgentTlsFiles, readAgentTls, tlsFetch } from "./uplink/agent-tls.js";
