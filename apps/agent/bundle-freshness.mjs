// Whether apps/agent/dist/kensa-agent.mjs is at least as new as every source it bundles. Shared
// by the launcher (bin/kensa-agent.mjs) and the repository's bootstrap. Plain JavaScript: both
// run before any TypeScript loader exists. A device install ships dist without the sources, and
// then the bundle counts as fresh.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export const bundlePath = here("./dist/kensa-agent.mjs");

/** The agent's sources and the workspace packages esbuild bundles with them (build.mjs). */
const bundledSourceDirs = [
  "./src",
  "../../packages/client/src",
  "../../packages/contracts/src",
  "../../packages/vision/src",
  "../../packages/synth/src",
];

/** The newest modification time of any file below `dir`, in ms. */
export function newestMtime(dir) {
  return readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = `${dir}/${e.name}`;
    return Math.max(m, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }, 0);
}

export function bundleIsFresh() {
  if (!existsSync(bundlePath)) return false;
  const built = statSync(bundlePath).mtimeMs;
  return bundledSourceDirs
    .map(here)
    .filter((d) => existsSync(d))
    .every((d) => newestMtime(d) <= built);
}
