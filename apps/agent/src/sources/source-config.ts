// The `sources` entries of the agent config live in the contracts, shared with the hub, which
// validates a remote device config against the same schemas before it sends one.
export {
  FolderSourceConfig,
  FolderWatchSourceConfig,
  MjpegSourceConfig,
  PushSourceConfig,
  RestartConfig,
  RtspSourceConfig,
  SourceConfig,
  type SourceType,
  SyntheticSourceConfig,
  sourceConfigSchemas,
  VideoSourceConfig,
} from "@kensa/contracts";
