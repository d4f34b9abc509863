import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { DeviceConfig } from "@kensa/contracts";
import { writeFileAtomic } from "../storage/fs-atomic.js";

/** The remote config the agent runs, as kept in its data dir. */
export interface StoredRemoteConfig {
  rev: number;
  sha256: string;
  config: DeviceConfig;
  appliedAt: string;
  /** keys whose change restarted the agent's components when this rev was applied */
  restarted?: string[];
}

/**
 * Keeps the running remote config in `<dataDir>/remote-config.json` (written atomically), so an
 * agent that restarts offline starts with the config it ran, not with agent.json alone.
 */
export class RemoteConfigStore {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, "remote-config.json");
  }

  /** The stored config; undefined when none (or the file is unreadable, which is logged by the caller). */
  read(): StoredRemoteConfig | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return undefined;
    }
    const value = JSON.parse(text) as StoredRemoteConfig;
    if (typeof value?.rev !== "number" || !value.config || typeof value.config !== "object") {
      throw new Error(`${this.path} is not a stored remote config`);
    }
    return value;
  }

  /** Forgets the kept config: the next start runs agent.json alone until the hub sends one. */
  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }

  async write(stored: StoredRemoteConfig): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(stored, null, 2)}\n`);
  }
}
