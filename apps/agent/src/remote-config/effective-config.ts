import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import {
  canonicalJson,
  DEVICE_CONFIG_KEYS,
  type DeviceConfig,
  type DeviceConfigKey,
  deviceConfigPaths,
  type Issue,
  isKensaError,
  LIVE_DEVICE_CONFIG_KEYS,
  mergeDeviceConfig,
} from "@kensa/contracts";
import { type AgentConfig, validateAgentConfig } from "../config.js";
import { resolveFfmpeg } from "../sources/ffmpeg-binary.js";
import { videoSourceTypes } from "../sources/ffmpeg-lookup.js";

/**
 * The config the agent runs, lowest layer first: built-in defaults, agent.json (with command-line
 * flags and env), the hub's remote config (its project default merged under the device's own),
 * then agent.json's `overrides`. A layer replaces what it sets; objects merge key by key, arrays
 * (`sources`) are replaced whole. Bootstrap keys (ids, secret, URLs, TLS, data dir, status
 * server, ffmpeg path) are not remote keys, so only agent.json sets them.
 */
export function layerConfig(
  base: AgentConfig,
  remote: DeviceConfig | null,
): { config: AgentConfig; overridden: string[] } {
  const local = (base.overrides ?? {}) as DeviceConfig;
  if (!remote || !base.remoteConfig) return { config: base, overridden: [] };
  const merged = mergeDeviceConfig(mergeDeviceConfig(base as unknown as DeviceConfig, remote), local);
  const pinned = deviceConfigPaths(local);
  const overridden = deviceConfigPaths(remote).filter((p) =>
    pinned.some((o) => p === o || p.startsWith(`${o}/`) || o.startsWith(`${p}/`)),
  );
  return { config: validateAgentConfig(merged as Record<string, unknown>), overridden };
}

/**
 * The remote config laid over the base, or the issues that refuse it: the agent's own schema
 * (an agent older than the hub may not know a key), then what can be checked on this device
 * before switching (paths of folder, folder-watch and video sources; ffmpeg for video sources).
 * A camera that is unreachable is not refused: it runs as a failing source and is reported so.
 */
export async function prepareConfig(
  base: AgentConfig,
  remote: DeviceConfig,
): Promise<{ ok: true; config: AgentConfig; overridden: string[] } | { ok: false; message: string; issues: Issue[] }> {
  let layered: { config: AgentConfig; overridden: string[] };
  try {
    layered = layerConfig(base, remote);
  } catch (err) {
    if (!isKensaError(err)) throw err;
    const issues = (err.details as { issues?: Issue[] } | undefined)?.issues ?? [];
    return { ok: false, message: err.message, issues };
  }
  const issues = await deviceChecks(layered.config);
  if (issues.length > 0) {
    const message = `the config cannot run on this device: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`;
    return { ok: false, message, issues };
  }
  return { ok: true, ...layered };
}

async function deviceChecks(config: AgentConfig): Promise<Issue[]> {
  const issues: Issue[] = [];
  let needsFfmpeg = false;
  for (const [i, s] of config.sources.entries()) {
    if (s.type === "folder" || s.type === "folder-watch") {
      const why = await problemOf(s.path, "dir");
      if (why) issues.push({ path: `/sources/${i}/path`, message: `${s.path}: ${why}` });
    } else if (s.type === "video") {
      const why = await problemOf(s.path, "file");
      if (why) issues.push({ path: `/sources/${i}/path`, message: `${s.path}: ${why}` });
    }
    if (videoSourceTypes.has(s.type) && !(s.type === "mjpeg" && s.reader === "native")) needsFfmpeg = true;
  }
  if (needsFfmpeg) {
    try {
      await resolveFfmpeg(config.ffmpegPath);
    } catch (err) {
      issues.push({ path: "/sources", message: `no ffmpeg for the video sources: ${(err as Error).message}` });
    }
  }
  return issues;
}

async function problemOf(path: string, kind: "dir" | "file"): Promise<string | undefined> {
  try {
    const st = await stat(path);
    if (kind === "dir" && !st.isDirectory()) return "not a directory";
    if (kind === "file" && !st.isFile()) return "not a file";
    await access(path, constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? "does not exist" : code === "EACCES" ? "not readable" : (err as Error).message;
  }
}

/** The remote keys whose value differs between two running configs. */
export function changedKeys(a: AgentConfig, b: AgentConfig): DeviceConfigKey[] {
  const pick = (c: AgentConfig, k: DeviceConfigKey) => canonicalJson((c as unknown as Record<string, unknown>)[k]);
  return DEVICE_CONFIG_KEYS.filter((k) => pick(a, k) !== pick(b, k));
}

/**
 * The changed keys that need the agent's components restarted: any key but sources and
 * capture, and sources too when a video source is added (ffmpeg and the clip recorder are set
 * up at start).
 */
export function keysNeedingRestart(from: AgentConfig, to: AgentConfig): DeviceConfigKey[] {
  const changed = changedKeys(from, to);
  const restart = changed.filter((k) => !LIVE_DEVICE_CONFIG_KEYS.includes(k));
  if (changed.includes("sources")) {
    const before = new Map(from.sources.map((s) => [s.id, canonicalJson(s)]));
    const addsVideo = to.sources.some((s) => videoSourceTypes.has(s.type) && before.get(s.id) !== canonicalJson(s));
    if (addsVideo) restart.push("sources");
  }
  return restart;
}
