import type { Logger } from "./logger.js";
import { PidFiles } from "./sources/pid-files.js";
import type { BundleStore } from "./updates/bundle-store.js";

/** What a spool's start-up recovery removed. */
interface Reaped {
  files: number;
  rows: number;
}

export interface RecoverTargets {
  spools: {
    media: { reap(): Promise<Reaped> };
    captures: { reap(): Promise<Reaped> };
    clips: { reap(): Promise<Reaped> };
  };
  bundles: BundleStore;
  /** where ffmpeg children leave their pid files */
  runDir: string;
  logger: Logger;
}

/**
 * Recover before serve: whatever a crash or a SIGKILL left in the data dir goes before the
 * agent writes anything. Each spool removes temp files, files without a row and rows without a
 * file; the bundle store drops half-written bundle directories; ffmpeg children a killed
 * predecessor could not stop are killed. Logged when there was anything to do.
 */
export async function recoverDataDir(t: RecoverTargets): Promise<void> {
  const media = await t.spools.media.reap();
  const captures = await t.spools.captures.reap();
  const clips = await t.spools.clips.reap();
  const bundleTemps = await t.bundles.reap();
  const orphanChildren = await new PidFiles(t.runDir).reap();
  const found = {
    mediaFiles: media.files,
    mediaRows: media.rows,
    captureFiles: captures.files,
    captureRows: captures.rows,
    clips: clips.files + clips.rows,
    bundleTemps,
    orphanChildren,
  };
  if (Object.values(found).some((n) => n > 0)) t.logger.info("recovered data dir", found);
}
