#!/usr/bin/env node
// Runs the TypeScript entry through tsx, so a device installs the agent package alone with
// no build step. tsx is registered in-process (no extra node), so signals reach the agent.
import { register } from "tsx/esm/api";

register();
await import(new URL("../src/main.ts", import.meta.url).href);
