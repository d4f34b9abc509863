#!/usr/bin/env node
// Runs the built agent (dist/kensa-agent.mjs, plain JavaScript: `npm run build -w @kensa/agent`)
// when it is there and no older than the sources beside it, else the TypeScript entry through
// tsx, so a checkout works with no build step. Either way in this process (no extra node), so
// signals reach the agent.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const built = here("../dist/kensa-agent.mjs");
// sources that go into the bundle; a device install ships dist without them
const sources = [
  "../src",
  "../../../packages/contracts/src",
  "../../../packages/vision/src",
  "../../../packages/synth/src",
]
  .map(here)
  .filter((d) => existsSync(d));
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = `${dir}/${e.name}`;
    return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);
const fresh = existsSync(built) && sources.every((d) => newest(d) <= statSync(built).mtimeMs);

if (fresh) {
  await import(new URL("../dist/kensa-agent.mjs", import.meta.url).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/main.ts", import.meta.url).href);
}
