import { createHash } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { authHeaders } from "@kensa/client";
import { AgentReleaseManifest, compile, type DesiredAgent, KensaError } from "@kensa/contracts";
import type { Logger } from "../logger.js";
import { signingHubCalls } from "./bundle-signature.js";
import { downloadBytes } from "./download.js";
import { TrustStore, validSigners } from "./trust-store.js";

const checkManifest = compile(AgentReleaseManifest);

/** Where the launcher (apps/agent/launcher.mjs) and the agent keep releases and their state. */
export interface AgentReleaseDirs {
  /** `<dataDir>/agent`: `current`, `next`, `trial`, `failed` and `releases/<version>/` */
  stateDir: string;
  /** the agent's data dir, for `trust.json` */
  dataDir: string;
}

export interface AgentReleaseInstallOptions extends AgentReleaseDirs {
  deviceId: string;
  secret: string;
  hubUrl: string;
  /** the version this process runs: an older release is refused */
  runningVersion: string;
  fetch?: typeof fetch;
  logger: Logger;
}

/** -1, 0 or 1: dot-separated numbers compared as numbers; a pre-release sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const [coreA = "", preA] = a.split("-", 2);
  const [coreB = "", preB] = b.split("-", 2);
  const na = coreA.split(".").map(Number);
  const nb = coreB.split(".").map(Number);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? 0) - (nb[i] ?? 0);
    if (d !== 0 && !Number.isNaN(d)) return Math.sign(d);
  }
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  return preA < preB ? -1 : 1;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const invalid = (msg: string) => new KensaError("KENSA_ERR_AGENT_RELEASE_INVALID", msg);

/**
 * Downloads, verifies and installs a release into `<stateDir>/releases/<version>/`, then names it
 * in `<stateDir>/next` for the launcher. Nothing is written into place before the manifest is
 * signed (kind `agent-release`) by the threshold of keys the device trusts, matches the desired
 * sha256, is for this architecture and not older than the running agent, and every file matches
 * its sha256 and size. Refusals: KENSA_ERR_AGENT_RELEASE_INVALID, KENSA_ERR_AGENT_RELEASE_ROLLBACK.
 */
export async function installAgentRelease(
  o: AgentReleaseInstallOptions,
  ref: DesiredAgent,
): Promise<AgentReleaseManifest> {
  const store = await followedTrust(o);
  const root = store.root;
  if (!root) throw invalid("this agent holds no trusted keys and the hub serves none: agent releases must be signed");
  const { headers } = authHeaders({ kind: "device", deviceId: o.deviceId, secret: o.secret }, "GET");
  const get = (url: string, maxBytes: number) => {
    const target = new URL(url, o.hubUrl);
    // the device secret goes to the hub's own origin only
    const authorization = target.origin === new URL(o.hubUrl).origin ? headers.authorization : undefined;
    return downloadBytes(target.href, {
      maxBytes,
      attempts: 3,
      ...(authorization ? { authorization } : {}),
      ...(o.fetch ? { fetch: o.fetch } : {}),
    });
  };
  const bytes = await get(ref.url, 65_536);
  if (sha256(bytes) !== ref.manifestSha256)
    throw invalid(`the release manifest's sha256 is ${sha256(bytes)}, not ${ref.manifestSha256}`);
  const valid = validSigners(root.keys, "agent-release", bytes, ref.signatures);
  if (valid.size < root.threshold)
    throw invalid(
      `release ${ref.version}: ${valid.size} of ${root.threshold} required signatures by trusted keys verify`,
    );
  let manifest: unknown;
  try {
    manifest = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    manifest = null;
  }
  if (!checkManifest.check(manifest)) throw invalid("the signed release manifest does not match its schema");
  if (manifest.version !== ref.version)
    throw invalid(`the signed manifest is version ${manifest.version}, the desired state names ${ref.version}`);
  if (manifest.arch !== "any" && manifest.arch !== process.arch)
    throw invalid(`release ${manifest.version} is for ${manifest.arch}, this device is ${process.arch}`);
  if (!manifest.files.some((f) => f.path === manifest.entry))
    throw invalid(`entry ${manifest.entry} is not a file of the release`);
  if (compareVersions(manifest.version, o.runningVersion) < 0) {
    throw new KensaError(
      "KENSA_ERR_AGENT_RELEASE_ROLLBACK",
      `release ${manifest.version} is older than the running agent ${o.runningVersion}`,
    );
  }
  const releases = join(o.stateDir, "releases");
  const partial = join(releases, `.${manifest.version}.partial`);
  await rm(partial, { recursive: true, force: true });
  try {
    for (const f of manifest.files) {
      const data = await get(ref.fileUrl.replace("{sha256}", f.sha256), f.size);
      if (data.byteLength !== f.size || sha256(data) !== f.sha256)
        throw invalid(`file ${f.path} of release ${manifest.version} does not match its sha256 or size`);
      await mkdir(dirname(join(partial, f.path)), { recursive: true });
      await writeFile(join(partial, f.path), data);
    }
    // the bundled agent reads its version from the package.json above its file
    const pkg = { name: "kensa-agent", version: manifest.version, private: true, type: "module" };
    await writeFile(join(partial, "package.json"), `${JSON.stringify(pkg)}\n`);
    const dest = join(releases, manifest.version);
    await rm(dest, { recursive: true, force: true });
    await rename(partial, dest);
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    throw err;
  }
  await writeJsonAtomic(join(o.stateDir, "next"), { version: manifest.version, entry: manifest.entry });
  o.logger.info("agent release installed", { version: manifest.version, manifestSha256: ref.manifestSha256 });
  return manifest;
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify(value)}\n`);
  await rename(`${file}.tmp`, file);
}

/**
 * The device's trust store brought up to the hub's latest root, as bundles do (bundle-signature.ts):
 * an empty store pins the hub's first root (trust on first use over the device's channel).
 */
async function followedTrust(o: AgentReleaseInstallOptions): Promise<TrustStore> {
  const store = await TrustStore.open(join(o.dataDir, "trust.json"));
  const hub = signingHubCalls(o.hubUrl, o.deviceId, o.secret, o.fetch);
  let chain: Awaited<ReturnType<typeof hub.trust>> = null;
  try {
    chain = await hub.trust(store.root?.version ?? 0);
  } catch (err) {
    if (!store.root) throw err;
  }
  if (!chain?.length) return store;
  try {
    if (!store.root) await store.pin(chain[0]!);
    await store.advance(chain);
  } catch (err) {
    o.logger.error("ignoring a trust root that does not verify", { code: (err as KensaError).code, err });
  }
  return store;
}
