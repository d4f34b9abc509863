#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so the workspace needs no build step. tsx is resolved
// from here, not from the caller's folder: `kensa` works from any directory.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const main = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "main.ts");
const tsx = import.meta.resolve("tsx");
const r = spawnSync(process.execPath, ["--import", tsx, main, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(r.status ?? 1);
