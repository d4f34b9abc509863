import { rename, rm } from "node:fs/promises";
import {
  type BundleManifest,
  type BundleSignatures,
  canonicalJson,
  type DowngradeGrant,
  KensaError,
  type Signature,
  type SignedKind,
  type SignedStatement,
  type SigningStatus,
  sha256Hex,
  signingInput,
  type TrustRoot,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import { isoNow } from "../clock.js";
import type { SigningConfig } from "../config/signing-config.js";
import type { HubDatabase } from "../db/schema.js";
import { SerialQueue } from "../serial-queue.js";
import { type BundleSigner, commandSigner, openKeyFileSigner, openSigner, writeNewKeyFile } from "./signing-keys.js";
import { SigningStore } from "./signing-store.js";

const utf8 = (s: string) => Buffer.from(s, "utf8");

/**
 * The hub's side of signed bundles (docs/bundles.md): gives every distinct bundle content a
 * sequence from the hub's one counter, signs manifests (detached, over their exact bytes),
 * signs downgrade grants when a deployment sends a device an older bundle, and keeps the
 * chain of trust roots devices follow through rotations and retirements.
 */
export class SigningService {
  readonly #store: SigningStore;
  readonly #blobs: BlobStore;
  #signer: BundleSigner;
  #root: TrustRoot;
  /** a command hub's next signer (`signing.rotateTo`), taken by rotate() */
  #next: BundleSigner | null;
  /** rotations and retirements, one at a time */
  readonly #roots = new SerialQueue();

  private constructor(
    store: SigningStore,
    blobs: BlobStore,
    signer: BundleSigner,
    root: TrustRoot,
    next: BundleSigner | null,
  ) {
    this.#store = store;
    this.#blobs = blobs;
    this.#signer = signer;
    this.#root = root;
    this.#next = next;
  }

  /**
   * Opens the configured signer and the trust root: the first start makes root version 1 with
   * the signer's key; later starts refuse a signer the latest root does not list
   * (KENSA_ERR_SIGNING_KEY_UNTRUSTED), since devices would refuse all it signs.
   */
  static async open(deps: {
    db: Kysely<HubDatabase>;
    blobs: BlobStore;
    config: SigningConfig;
    dataDir: string;
  }): Promise<SigningService> {
    const store = new SigningStore(deps.db);
    const signer = await openSigner(deps.config, deps.dataDir);
    let latest = await store.latestRoot();
    if (!latest) {
      const root: TrustRoot = {
        type: "kensa.trust-root/v1",
        version: 1,
        threshold: 1,
        keys: [{ id: signer.keyId, alg: "ed25519", publicKey: signer.publicKey }],
        retired: [],
        issuedAt: isoNow(),
      };
      const signed = canonicalJson(root);
      await store.addRoot(1, { signed, signatures: [await sigOf(signer, "root", utf8(signed))] }, root.issuedAt);
      latest = await store.latestRoot();
    }
    const root = JSON.parse(latest!.signed) as TrustRoot;
    if (!root.keys.some((k) => k.id === signer.keyId)) {
      throw new KensaError(
        "KENSA_ERR_SIGNING_KEY_UNTRUSTED",
        `the hub's signing key ${signer.keyId} is not in trust root version ${root.version} (keys ${root.keys.map((k) => k.id).join(", ")})`,
      );
    }
    const { rotateTo } = deps.config;
    const next = rotateTo ? commandSigner(rotateTo.command, rotateTo.publicKey, deps.config.commandTimeoutMs) : null;
    return new SigningService(store, deps.blobs, signer, root, next);
  }

  get keyId(): string {
    return this.#signer.keyId;
  }

  /**
   * Seals a bundle manifest with its sequence, stores it as a content-addressed blob and signs
   * its exact bytes. The same content (the same model version, rule and target) keeps its
   * sequence, so a bundle deployed again keeps its id and devices that hold it fetch nothing.
   */
  async putBundle(bundle: BundleManifest): Promise<{ sha256: string; bytes: Buffer; sequence: number }> {
    const { sequence: _ignored, ...content } = bundle;
    const now = isoNow();
    const sequence = await this.#store.sequenceOf(sha256Hex(canonicalJson(content)), bundle.projectId, now);
    const bytes = utf8(canonicalJson({ ...content, sequence }));
    const { sha256 } = await this.#blobs.put(bytes);
    const have = await this.#store.bundleSignatures(sha256);
    if (!have.some((s) => s.keyId === this.#signer.keyId)) {
      await this.#store.addBundleSignature(sha256, await sigOf(this.#signer, "bundle", bytes), now);
    }
    return { sha256, bytes, sequence };
  }

  /** Signs an agent release manifest (its exact bytes) under its own kind: never valid as a bundle. */
  async signAgentRelease(manifestBytes: Uint8Array): Promise<Signature[]> {
    return [await sigOf(this.#signer, "agent-release", manifestBytes)];
  }

  /**
   * A deployment sends these devices' pipeline a bundle: when it is older than the newest of its
   * project, each device gets a signed downgrade grant with a fresh sequence (deploying an older
   * version is the explicit act that allows it; nothing else can make one).
   */
  async grantDowngrades(d: {
    projectId: string;
    pipeline: string;
    bundleSha256: string;
    sequence: number;
    deviceIds: readonly string[];
  }): Promise<number> {
    // a deployment supersedes the grants these devices' pipeline held for other bundles
    await this.#store.dropGrants(d.deviceIds, d.pipeline, d.bundleSha256);
    if (d.sequence >= (await this.#store.projectSequence(d.projectId))) return 0;
    for (const deviceId of d.deviceIds) {
      const grant: DowngradeGrant = {
        type: "kensa.downgrade/v1",
        deviceId,
        pipeline: d.pipeline,
        bundleSha256: d.bundleSha256,
        bundleSequence: d.sequence,
        sequence: await this.#store.nextSequence(),
        issuedAt: isoNow(),
      };
      const signed = canonicalJson(grant);
      const signatures = [await sigOf(this.#signer, "downgrade", utf8(signed))];
      await this.#store.putGrant(deviceId, d.pipeline, d.bundleSha256, { signed, signatures }, grant.issuedAt);
    }
    return d.deviceIds.length;
  }

  /**
   * What is served beside a bundle: its signatures by keys of the current root (signed now by the
   * current key when a rotation came after it), and the calling device's grant for `pipeline`.
   */
  async signaturesFor(
    sha256: string,
    caller: { deviceId: string; projectId: string } | null,
    pipeline = "default",
  ): Promise<BundleSignatures> {
    const project = /^[a-f0-9]{64}$/.test(sha256) ? await this.#store.bundleProject(sha256) : undefined;
    if (!project || (caller && caller.projectId !== project)) {
      throw new KensaError("KENSA_ERR_BUNDLE_NOT_FOUND", `no bundle ${sha256}`);
    }
    const active = new Set(this.#root.keys.map((k) => k.id));
    let signatures = (await this.#store.bundleSignatures(sha256)).filter((s) => active.has(s.keyId));
    if (!signatures.some((s) => s.keyId === this.#signer.keyId)) {
      const bytes = await this.#blobs.get(sha256);
      if (!bytes) throw new KensaError("KENSA_ERR_BUNDLE_NOT_FOUND", `bundle ${sha256} is missing from the blob store`);
      const sig = await sigOf(this.#signer, "bundle", bytes);
      await this.#store.addBundleSignature(sha256, sig, isoNow());
      signatures = [...signatures, sig];
    }
    let downgrade = caller ? await this.#store.grant(caller.deviceId, pipeline, sha256) : null;
    if (caller && downgrade && !downgrade.signatures.some((s) => s.keyId === this.#signer.keyId)) {
      const sigs = [
        ...downgrade.signatures.filter((s) => active.has(s.keyId)),
        await sigOf(this.#signer, "downgrade", utf8(downgrade.signed)),
      ];
      await this.#store.setGrantSignatures(caller.deviceId, pipeline, sha256, sigs);
      downgrade = { signed: downgrade.signed, signatures: sigs };
    }
    return { bundleSha256: sha256, signatures, downgrade };
  }

  /** Signed trust roots above `since`, oldest first: a device walks them one version at a time. */
  async trustChain(since = 0): Promise<SignedStatement[]> {
    return (await this.#store.roots(since)).map(({ signed, signatures }) => ({ signed, signatures }));
  }

  /** The latest signed trust root, as handed to a device at enrollment. */
  async trustRoot(): Promise<SignedStatement> {
    const latest = await this.#store.latestRoot();
    if (!latest) throw new KensaError("KENSA_ERR_INTERNAL", "no trust root");
    return { signed: latest.signed, signatures: latest.signatures };
  }

  async status(): Promise<SigningStatus> {
    await this.#reload();
    return {
      activeKeyId: this.#signer.keyId,
      signer: this.#signer.kind,
      root: this.#root,
      sequence: await this.#store.currentSequence(),
    };
  }

  /**
   * Rotates to `next`: a key-file hub makes a new key file, a command hub takes `signing.rotateTo`.
   * Root n+1 lists
   * the current keys and the new one, signed by the current key and by the new key, and the hub
   * signs with the new key from then on. The previous key stays trusted until it is retired.
   */
  rotate(next?: BundleSigner): Promise<SigningStatus> {
    return this.#roots.run(async () => {
      await this.#reload();
      const current = this.#signer;
      let pending: string | undefined;
      next ??= current.kind === "command" ? (this.#next ?? undefined) : undefined;
      if (!next) {
        if (current.kind !== "key-file" || !current.file) {
          throw new KensaError("KENSA_ERR_SIGNING_ROTATE_UNSUPPORTED");
        }
        pending = `${current.file}.next`;
        await rm(pending, { force: true });
        await writeNewKeyFile(pending);
      }
      let incoming = next ?? (await openKeyFileSigner(pending!, { create: false }));
      const id = incoming.keyId;
      const keys = this.#root.keys.filter((k) => k.id !== id);
      keys.push({ id, alg: "ed25519", publicKey: incoming.publicKey });
      await this.#publish({ keys, retired: this.#root.retired.filter((r) => r !== id) }, [current, incoming]);
      if (pending && current.file) {
        // the previous key is kept (0600) until it is retired, then deleted
        await rename(current.file, `${current.file}.${current.keyId}.previous`);
        await rename(pending, current.file);
        incoming = await openKeyFileSigner(current.file, { create: false });
      }
      this.#signer = incoming;
      return this.status();
    });
  }

  /**
   * Retires a key: root n+1 without it, naming it in `retired`, signed by the current key.
   * Devices that follow the root refuse what only that key signed (KENSA_ERR_BUNDLE_KEY_RETIRED).
   */
  retire(keyId: string): Promise<SigningStatus> {
    return this.#roots.run(async () => {
      await this.#reload();
      if (!this.#root.keys.some((k) => k.id === keyId)) {
        throw new KensaError(
          "KENSA_ERR_SIGNING_KEY_NOT_FOUND",
          `no active key ${keyId} in trust root ${this.#root.version}`,
        );
      }
      if (keyId === this.#signer.keyId || this.#root.keys.length === 1) {
        throw new KensaError("KENSA_ERR_SIGNING_KEY_ACTIVE", `the hub signs with key ${keyId}; rotate first`);
      }
      const keys = this.#root.keys.filter((k) => k.id !== keyId);
      await this.#publish({ keys, retired: [...this.#root.retired, keyId] }, [this.#signer]);
      if (this.#signer.file) await rm(`${this.#signer.file}.${keyId}.previous`, { force: true });
      return this.status();
    });
  }

  /** Signs and stores root n+1; `signers` cover the threshold of the old and of the new root. */
  async #publish(change: Pick<TrustRoot, "keys" | "retired">, signers: BundleSigner[]): Promise<void> {
    const root: TrustRoot = {
      ...this.#root,
      ...change,
      version: this.#root.version + 1,
      issuedAt: isoNow(),
    };
    const signed = canonicalJson(root);
    const signatures: Signature[] = [];
    for (const s of signers) signatures.push(await sigOf(s, "root", utf8(signed)));
    if (!(await this.#store.addRoot(root.version, { signed, signatures }, root.issuedAt))) {
      throw new KensaError(
        "KENSA_ERR_SIGNING_FAILED",
        `trust root version ${root.version} was made meanwhile; try again`,
      );
    }
    this.#root = root;
  }

  /** Another replica may have rotated: the latest root is the one that counts. */
  async #reload(): Promise<void> {
    const latest = await this.#store.latestRoot();
    if (latest) this.#root = JSON.parse(latest.signed) as TrustRoot;
  }
}

async function sigOf(signer: BundleSigner, kind: SignedKind, payload: Uint8Array): Promise<Signature> {
  return { keyId: signer.keyId, sig: await signer.sign(signingInput(kind, payload)) };
}
