import { join } from "node:path";

/** Where the agent keeps what under its data dir (the database is `agent.db` beside these). */
export interface DataDirLayout {
  /** incident frames (the media spool) */
  media: string;
  /** frames kept for learning (the capture spool) */
  captures: string;
  /** incident clips (the clip spool) */
  clips: string;
  /** verified bundles and current.json */
  bundles: string;
  /** pid files of ffmpeg children */
  run: string;
}

export function dataDirLayout(dataDir: string): DataDirLayout {
  return {
    media: join(dataDir, "media"),
    captures: join(dataDir, "captures"),
    clips: join(dataDir, "clips"),
    bundles: join(dataDir, "bundles"),
    run: join(dataDir, "run"),
  };
}
