#!/usr/bin/env node
// Runs the built agent (dist/kensa-agent.mjs, plain JavaScript: `npm run build -w @kensa/agent`)
// when it is there and no older than the sources beside it, else the TypeScript entry through
// tsx, so a checkout works with no build step. Either way in this process (no extra node), so
// signals reach the agent.
import { bundleIsFresh } from "../bundle-freshness.mjs";

if (bundleIsFresh()) {
  await import(new URL("../dist/kensa-agent.mjs", import.meta.url).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/main.ts", import.meta.url).href);
}
