import { FfmpegSource } from "./ffmpeg-source.js";
import { FolderSource } from "./folder-source.js";
import { FolderWatchSource } from "./folder-watch-source.js";
import { defaultSourceContext, type FrameSource, type SourceContext } from "./frame-source.js";
import { MjpegHttpSource } from "./mjpeg-http-source.js";
import { PushSource } from "./push-source.js";
import type { SourceConfig, SourceType } from "./source-config.js";
import { SyntheticSource } from "./synthetic-source.js";

type ConfigOf<T extends SourceType> = Extract<SourceConfig, { type: T }>;

/** Source adapters keyed by the `type` of their config; a new adapter is one line here. */
export const sourceFactories: { [T in SourceType]: (config: ConfigOf<T>, ctx: SourceContext) => FrameSource } = {
  synthetic: (config) => new SyntheticSource(config),
  folder: (config) => new FolderSource(config),
  rtsp: (config, ctx) => new FfmpegSource(config, ctx),
  video: (config, ctx) => new FfmpegSource(config, ctx),
  mjpeg: (config, ctx) => (config.reader === "ffmpeg" ? new FfmpegSource(config, ctx) : new MjpegHttpSource(config)),
  "folder-watch": (config, ctx) => new FolderWatchSource(config, ctx),
  push: (config, ctx) => new PushSource(config, ctx),
};

export function createSource(config: SourceConfig, ctx: Partial<SourceContext> = {}): FrameSource {
  const factory = sourceFactories[config.type] as (c: SourceConfig, x: SourceContext) => FrameSource;
  return factory(config, { ...defaultSourceContext, ...ctx });
}
