import {
  type AgentRelease,
  AgentReleaseArch,
  AgentReleaseManifest,
  AgentReleaseVersion,
  canonicalJson,
  compile,
  type DeployAgentRelease,
  KensaError,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isSha256 } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { HubDatabase } from "../db/schema.js";
import { emptyDesired, type StoredDesired } from "./desired-state.js";
import type { DesiredSync } from "./desired-sync.js";
import type { SigningService } from "./signing-service.js";

const checkManifest = compile(AgentReleaseManifest);
const checkVersion = compile(AgentReleaseVersion);
const checkArch = compile(AgentReleaseArch);

/** where the bundled agent sits inside a release directory (the launcher runs it) */
export const agentReleaseEntry = "dist/kensa-agent.mjs";

/**
 * Agent releases (docs/bundles.md, "Agent updates"): the bundled agent stored as a blob, a
 * canonical-JSON manifest pinning it by sha256 stored beside it (its sha256 is the release's id),
 * signed with the hub's bundle-signing key under the `agent-release` kind; deploying one sets
 * the `agent` entry of the chosen devices' desired state.
 */
export class AgentReleaseService {
  readonly #db: Kysely<HubDatabase>;
  readonly #blobs: BlobStore;
  readonly #signing: SigningService;
  readonly #desired: DesiredSync;

  constructor(deps: { db: Kysely<HubDatabase>; blobs: BlobStore; signing: SigningService; desired: DesiredSync }) {
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#signing = deps.signing;
    this.#desired = deps.desired;
  }

  async upload(input: { version: string; arch?: string; agent: Uint8Array }): Promise<AgentRelease> {
    const arch = input.arch || "any";
    if (!checkVersion.check(input.version))
      throw new KensaError("KENSA_ERR_AGENT_RELEASE_INVALID", `version "${input.version}" is not like 1.2.3`);
    if (!checkArch.check(arch))
      throw new KensaError("KENSA_ERR_AGENT_RELEASE_INVALID", `arch "${arch}" is not "any" or a Node.js architecture`);
    if (input.agent.byteLength === 0)
      throw new KensaError("KENSA_ERR_AGENT_RELEASE_INVALID", "the agent file is empty");
    const file = await this.#blobs.put(input.agent);
    const manifest: AgentReleaseManifest = {
      type: "kensa.agent-release/v1",
      version: input.version,
      arch,
      entry: agentReleaseEntry,
      files: [{ path: agentReleaseEntry, sha256: file.sha256, size: input.agent.byteLength }],
      createdAt: isoNow(),
    };
    const bytes = Buffer.from(canonicalJson(manifest), "utf8");
    const { sha256 } = await this.#blobs.put(bytes);
    return { id: sha256, manifest, signatures: await this.#signing.signAgentRelease(bytes) };
  }

  /** The release and its signatures (Ed25519 is deterministic: the same key signs the same bytes alike). */
  async get(id: string): Promise<AgentRelease> {
    const bytes = isSha256(id) ? await this.#blobs.get(id) : null;
    let manifest: unknown;
    try {
      manifest = bytes ? JSON.parse(Buffer.from(bytes).toString("utf8")) : null;
    } catch {
      manifest = null;
    }
    // any other blob (a model, a bundle) is not a release
    if (!bytes || !checkManifest.check(manifest))
      throw new KensaError("KENSA_ERR_AGENT_RELEASE_NOT_FOUND", `no agent release ${id}`);
    return { id, manifest, signatures: await this.#signing.signAgentRelease(bytes) };
  }

  /** Whether `sha` is one of the release's files (devices fetch nothing else through it). */
  async fileOf(id: string, sha: string): Promise<boolean> {
    const release = await this.get(id);
    return release.manifest.files.some((f) => f.sha256 === sha);
  }

  /** Makes the release the desired agent of the devices named or tagged (any project); returns their ids. */
  async deploy(id: string, target: DeployAgentRelease): Promise<string[]> {
    const release = await this.get(id);
    const devices = await this.#db
      .selectFrom("devices")
      .select(["id", "tags"])
      .where("deleted_at", "is", null)
      .where("retired_at", "is", null)
      .execute();
    const known = new Set(devices.map((d) => d.id));
    const missing = target.deviceIds.filter((d) => !known.has(d));
    if (missing.length > 0)
      throw new KensaError("KENSA_ERR_DEVICE_NOT_FOUND", `no device ${missing.join(", ")}`, { deviceIds: missing });
    const tags = new Set(target.tags);
    const ids = devices
      .filter((d) => target.deviceIds.includes(d.id) || (JSON.parse(d.tags) as string[]).some((t) => tags.has(t)))
      .map((d) => d.id);
    if (ids.length === 0)
      throw new KensaError("KENSA_ERR_DEPLOYMENT_NO_TARGETS", "no device matches these ids or tags");
    const agent = { id, version: release.manifest.version, signatures: release.signatures };
    const now = isoNow();
    await this.#db.transaction().execute(async (trx) => {
      for (const deviceId of ids) {
        const cur = await trx
          .selectFrom("devices")
          .select(["desired", "desired_rev", "created_at"])
          .where("id", "=", deviceId)
          .executeTakeFirstOrThrow();
        const stored = cur.desired ? (JSON.parse(cur.desired) as StoredDesired) : emptyDesired(cur.created_at);
        await trx
          .updateTable("devices")
          .set({ desired: JSON.stringify({ ...stored, updatedAt: now, agent }), desired_rev: cur.desired_rev + 1 })
          .where("id", "=", deviceId)
          .execute();
      }
    });
    await this.#desired.sync(ids);
    return ids;
  }
}
