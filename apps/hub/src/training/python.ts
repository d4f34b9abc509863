import { execFile } from "node:child_process";
import { existsSync } from "node:fs";

const DEBIAN_PYTHON = "/usr/bin/python3";
const cache = new Map<string, Promise<boolean>>();

/** Whether `python` can import what the built-in trainer needs (cached per interpreter). */
export function importsTorch(python: string): Promise<boolean> {
  let p = cache.get(python);
  if (!p) {
    p = new Promise((resolve) => {
      execFile(python, ["-c", "import torch, torchvision, onnx, PIL"], { timeout: 120_000 }, (err) => resolve(!err));
    });
    cache.set(python, p);
  }
  return p;
}

/**
 * The interpreter of the built-in trainer: the configured one, else KENSA_PYTHON, else
 * `python3` on PATH when it imports torch, else Debian's /usr/bin/python3 (where
 * python3-torch installs) when that does. A pyenv or venv `python3` first on PATH often lacks
 * torch while the system one has it. Falls back to `python3` (the run then fails with a
 * clear reason).
 */
export async function resolvePython(configured: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  if (configured) return configured;
  if (env.KENSA_PYTHON) return env.KENSA_PYTHON;
  if (await importsTorch("python3")) return "python3";
  if (existsSync(DEBIAN_PYTHON) && (await importsTorch(DEBIAN_PYTHON))) return DEBIAN_PYTHON;
  return "python3";
}
