import { datasetRoutes } from "@kensa/contracts";
import { useEffect, useState } from "react";
import { ApiError, hub } from "../../api/client";
import { decodeMaskPng, type MaskBitmap } from "./mask-bitmap";

// Masks are content-addressed blobs, so a decoded one never goes stale: one cache for the tab,
// bounded because each holds width × height bytes.
const MAX_CACHED = 200;
const cache = new Map<string, Promise<MaskBitmap>>();

function load(sha: string): Promise<MaskBitmap> {
  let p = cache.get(sha);
  if (!p) {
    p = hub.fetch(datasetRoutes.getMask, { params: { sha } }).then(
      async (res) => decodeMaskPng(await res.blob()),
      (err: unknown) => {
        throw err instanceof ApiError && err.status ? new Error(`mask ${sha.slice(0, 12)}: HTTP ${err.status}`) : err;
      },
    );
    p.catch(() => cache.delete(sha)); // a failed fetch may be retried later
    cache.set(sha, p);
    if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value as string);
  }
  return p;
}

/** Seeds the cache with a mask this tab just uploaded, so it is not fetched back. */
export function rememberMask(sha: string, m: MaskBitmap): void {
  cache.set(sha, Promise.resolve(m));
}

/** The stored masks named by `shas`, decoded; fills in as they arrive. Failures are listed by sha. */
export function useMaskCache(shas: readonly string[]): {
  masks: ReadonlyMap<string, MaskBitmap>;
  failed: ReadonlyMap<string, string>;
} {
  const [masks, setMasks] = useState<ReadonlyMap<string, MaskBitmap>>(new Map());
  const [failed, setFailed] = useState<ReadonlyMap<string, string>>(new Map());
  const wanted = [...new Set(shas)].sort().join(",");

  useEffect(() => {
    let live = true;
    for (const sha of wanted ? wanted.split(",") : []) {
      load(sha)
        .then((m) => live && setMasks((prev) => (prev.get(sha) === m ? prev : new Map(prev).set(sha, m))))
        .catch((err: unknown) => live && setFailed((prev) => new Map(prev).set(sha, String(err))));
    }
    return () => {
      live = false;
    };
  }, [wanted]);

  return { masks, failed };
}
