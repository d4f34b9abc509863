import type { SourceConfig, SourceType } from "../config.js";
import { FolderSource } from "./folder-source.js";
import type { FrameSource } from "./frame-source.js";
import { SyntheticSource } from "./synthetic-source.js";

type ConfigOf<T extends SourceType> = Extract<SourceConfig, { type: T }>;

/** Source adapters keyed by the `type` of their config; a new adapter is one line here. */
export const sourceFactories: { [T in SourceType]: (config: ConfigOf<T>) => FrameSource } = {
  synthetic: (config) => new SyntheticSource(config),
  folder: (config) => new FolderSource(config),
};

export function createSource(config: SourceConfig): FrameSource {
  const factory = sourceFactories[config.type] as (c: SourceConfig) => FrameSource;
  return factory(config);
}
