import { ApiError, KensaClient } from "@kensa/client";
import {
  type BundleManifest,
  type BundleRef,
  BundleSignatures,
  compile,
  DowngradeGrant,
  KensaError,
  type SignedStatement,
  signingRoutes,
  TrustChain,
} from "@kensa/contracts";
import type { Logger } from "../logger.js";
import type { StateStore } from "../storage/agent-db.js";
import { type TrustStore, validSigners } from "./trust-store.js";

const checkSignatures = compile(BundleSignatures);
const checkChain = compile(TrustChain);
const checkGrant = compile(DowngradeGrant);

/** What the agent asks the hub about signatures; null: this hub serves none (a hub before signing). */
export interface SigningHub {
  trust(since: number): Promise<SignedStatement[] | null>;
  signatures(sha256: string, pipeline: string): Promise<BundleSignatures | null>;
}

/** The hub's signing routes over the device's credentials; replies are checked against their schemas. */
export function signingHubCalls(
  hubUrl: string,
  deviceId: string,
  secret: string,
  fetchImpl?: typeof fetch,
): SigningHub {
  const hub = new KensaClient({
    baseUrl: hubUrl,
    auth: { kind: "device", deviceId, secret },
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  const ask = async <T>(
    what: string,
    call: () => Promise<unknown>,
    check: (v: unknown) => v is T,
  ): Promise<T | null> => {
    let reply: unknown;
    try {
      reply = await call();
    } catch (err) {
      // 404 without a catalog code other than "no such route": a hub from before signing
      if (err instanceof ApiError && err.status === 404 && err.code !== "KENSA_ERR_BUNDLE_NOT_FOUND") return null;
      if (err instanceof ApiError && err.status === 404) {
        throw new KensaError("KENSA_ERR_BUNDLE_UNSIGNED", `the hub has no signatures for this bundle: ${err.message}`);
      }
      // unreachable or failing hub: transient, like a failed download (retried on redelivery)
      throw new KensaError("KENSA_ERR_BUNDLE_DOWNLOAD_FAILED", `${what}: ${(err as Error).message}`);
    }
    if (!check(reply)) throw new KensaError("KENSA_ERR_BUNDLE_SIGNATURE_INVALID", `${what}: malformed reply`);
    return reply;
  };
  return {
    trust: async (since) => {
      const isChain = (v: unknown): v is TrustChain => checkChain.check(v);
      const chain = await ask("trust roots", () => hub.call(signingRoutes.trust, { query: { since } }), isChain);
      return chain?.roots ?? null;
    },
    signatures: (sha, pipeline) =>
      ask(
        "bundle signatures",
        () => hub.call(signingRoutes.bundleSignatures, { params: { sha }, query: { pipeline } }),
        (v): v is BundleSignatures => checkSignatures.check(v),
      ),
  };
}

/** Which model of a pipeline a bundle is for: rollback protection guards the running model only. */
export interface BundleUse {
  pipeline: string;
  role: "bundle" | "shadow";
}

/** What a check decided; recorded once the bundle runs (BundleTrust.accepted). */
export interface TrustDecision {
  pipeline: string;
  role: BundleUse["role"];
  /** false: taken unsigned from a hub that serves no signatures, by an agent holding no keys */
  signed: boolean;
  sequence: number;
  /** the downgrade grant's sequence when one allowed an older bundle */
  grant?: number;
}

export interface BundleTrustOptions {
  store: TrustStore;
  state: StateStore;
  hub: SigningHub;
  deviceId: string;
  /** refuse unsigned bundles even before the agent holds keys (`bundleSigning.require`) */
  require: boolean;
  logger: Logger;
}

const floorKey = (pipeline: string) => `bundles.sequence#${pipeline}`;
const grantKey = (pipeline: string) => `bundles.grant#${pipeline}`;

/**
 * Decides whether a downloaded manifest may be installed, before any byte of its model is
 * fetched: signed by the threshold of keys the device trusts (after following the hub's newer
 * trust roots), and, for a pipeline's model, not older than the one it runs unless a downgrade
 * grant signed for this device, pipeline and bundle (newer than any grant taken before) says so.
 */
export class BundleTrust {
  readonly #o: BundleTrustOptions;
  readonly #log: Logger;

  constructor(opts: BundleTrustOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({ component: "bundle-trust" });
  }

  /** The bundle sequence a pipeline runs at least (0 before any signed bundle). */
  floor(pipeline: string): number {
    return this.#o.state.get<number>(floorKey(pipeline)) ?? 0;
  }

  async check(
    use: BundleUse,
    ref: BundleRef,
    manifestBytes: Uint8Array,
    manifest: BundleManifest,
  ): Promise<TrustDecision> {
    const { store } = this.#o;
    const sequence = manifest.sequence ?? 0;
    await this.#followRoots();
    const root = store.root;
    if (!root) {
      if (this.#o.require) {
        throw new KensaError(
          "KENSA_ERR_BUNDLE_UNSIGNED",
          "this agent holds no trusted keys and bundleSigning.require is on",
        );
      }
      this.#log.warn("the hub signs nothing and this agent holds no keys: bundle checked by its hashes only", {
        sha256: ref.sha256,
      });
      return { pipeline: use.pipeline, role: use.role, signed: false, sequence };
    }
    const served = await this.#o.hub.signatures(ref.sha256, use.pipeline);
    const sigs = served?.bundleSha256 === ref.sha256 ? served.signatures : [];
    if (sigs.length === 0)
      throw new KensaError("KENSA_ERR_BUNDLE_UNSIGNED", `bundle ${ref.sha256.slice(0, 12)} carries no signature`);
    const valid = validSigners(root.keys, "bundle", manifestBytes, sigs);
    if (valid.size < root.threshold)
      throw this.#refusal(
        ref,
        sigs.map((s) => s.keyId),
        valid.size,
        root.threshold,
      );
    const decision: TrustDecision = { pipeline: use.pipeline, role: use.role, signed: true, sequence };
    if (use.role === "shadow") return decision;
    const floor = this.floor(use.pipeline);
    // a valid grant served with the bundle is used up when it runs, needed or not: never replayable later
    const grant = this.#grant(served?.downgrade ?? null, use.pipeline, ref, sequence, floor);
    if (sequence >= floor) return grant === null ? decision : { ...decision, grant };
    if (grant === null) {
      throw new KensaError(
        "KENSA_ERR_BUNDLE_ROLLBACK",
        `bundle ${ref.sha256.slice(0, 12)} has sequence ${sequence}, older than the ${floor} pipeline ${use.pipeline} runs, and no valid fresh downgrade grant`,
      );
    }
    this.#log.info("older bundle allowed by a signed downgrade grant", { sha256: ref.sha256, sequence, floor, grant });
    return { ...decision, grant };
  }

  /** Records a bundle that now runs: its sequence (and grant) become the pipeline's floor. */
  accepted(decision: TrustDecision): void {
    if (decision.role !== "bundle" || !decision.signed) return;
    const { state } = this.#o;
    if (decision.sequence > this.floor(decision.pipeline)) state.set(floorKey(decision.pipeline), decision.sequence);
    const grant = decision.grant ?? 0;
    if (grant > (state.get<number>(grantKey(decision.pipeline)) ?? 0)) state.set(grantKey(decision.pipeline), grant);
  }

  /**
   * The grant's sequence when it is signed by the threshold of trusted keys, names this device,
   * pipeline and bundle, and is fresh: newer than every grant the pipeline used and than the
   * bundle it runs (grants and bundles share the hub's counter). Anything else: null.
   */
  #grant(statement: SignedStatement | null, pipeline: string, ref: BundleRef, sequence: number, floor: number) {
    const root = this.#o.store.root;
    if (!statement || !root) return null;
    const valid = validSigners(root.keys, "downgrade", Buffer.from(statement.signed, "utf8"), statement.signatures);
    if (valid.size < root.threshold) return null;
    let grant: unknown;
    try {
      grant = JSON.parse(statement.signed);
    } catch {
      return null;
    }
    if (!checkGrant.check(grant)) return null;
    const used = this.#o.state.get<number>(grantKey(pipeline)) ?? 0;
    const fits =
      grant.deviceId === this.#o.deviceId &&
      grant.pipeline === pipeline &&
      grant.bundleSha256 === ref.sha256 &&
      grant.bundleSequence === sequence &&
      grant.sequence > used &&
      grant.sequence > floor;
    return fits ? grant.sequence : null;
  }

  #refusal(ref: BundleRef, keyIds: string[], valid: number, threshold: number): KensaError {
    const { store } = this.#o;
    const states = keyIds.map((id) => store.keyState(id));
    const short = ref.sha256.slice(0, 12);
    if (states.includes("active")) {
      return new KensaError(
        "KENSA_ERR_BUNDLE_SIGNATURE_INVALID",
        `bundle ${short}: ${valid} of ${threshold} required signatures by trusted keys verify over its manifest`,
      );
    }
    if (states.includes("retired")) {
      return new KensaError(
        "KENSA_ERR_BUNDLE_KEY_RETIRED",
        `bundle ${short} is signed by retired key ${keyIds.join(", ")}`,
      );
    }
    return new KensaError(
      "KENSA_ERR_BUNDLE_KEY_UNKNOWN",
      `bundle ${short} is signed by unknown key ${keyIds.join(", ")}`,
    );
  }

  /**
   * Brings the trust store up to the hub's latest root: a store without one pins the hub's first
   * root (trust on first use over the device-authenticated channel) and walks the rest. A hub that
   * serves no roots leaves an empty store empty; a root that does not verify is logged and ignored.
   */
  async #followRoots(): Promise<void> {
    const { store, hub } = this.#o;
    const since = store.root?.version ?? 0;
    let chain: SignedStatement[] | null;
    try {
      chain = await hub.trust(since);
    } catch (err) {
      // with keys, a hub that does not answer leaves the device on the keys it has
      if (store.root) return;
      throw err;
    }
    if (!chain?.length) return;
    try {
      if (!store.root) {
        const first = await store.pin(chain[0]!);
        this.#log.info("trust root pinned from the hub", { version: first.version, keys: first.keys.map((k) => k.id) });
      }
      const taken = await store.advance(chain);
      if (taken > 0)
        this.#log.info("trust root rotated", { version: store.root?.version, keys: store.root?.keys.map((k) => k.id) });
    } catch (err) {
      this.#log.error("ignoring a trust root that does not verify", { code: (err as KensaError).code, err });
    }
  }
}
