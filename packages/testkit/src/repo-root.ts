import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, so tests can start apps the way the CLI does. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
