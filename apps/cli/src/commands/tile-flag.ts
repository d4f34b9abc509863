import { KensaError, type RunTiling } from "@kensa/contracts";

/**
 * `kensa train --tile <px>[x<px>] [--tile-overlap <px>]` → the run's `tiling`; `--no-tile` →
 * false (whole frames). The hub checks the tiles against the task and the input
 * (KENSA_ERR_TILING_INVALID); here only their shape (KENSA_ERR_FLAG_INVALID).
 */
export function tilingFlag(
  tile: string | boolean | undefined,
  overlap: number | undefined,
): RunTiling | false | undefined {
  if (tile === false) {
    if (overlap !== undefined) throw flag("--tile-overlap needs --tile, not --no-tile");
    return false;
  }
  if (tile === undefined || tile === true) {
    if (overlap !== undefined) throw flag("--tile-overlap needs --tile <px>");
    return undefined;
  }
  const m = /^(\d+)(?:x(\d+))?$/.exec(tile.trim());
  const width = Number(m?.[1]);
  const height = Number(m?.[2] ?? m?.[1]);
  if (!m || !(width >= 16 && width <= 8192 && height >= 16 && height <= 8192)) {
    throw flag(`--tile must be a tile size of 16 to 8192 px, e.g. 256 or 320x240, got "${tile}"`);
  }
  // left out, the hub applies the default overlap
  return overlap === undefined ? { width, height } : { width, height, overlap };
}

function flag(message: string): KensaError {
  return new KensaError("KENSA_ERR_FLAG_INVALID", message);
}
