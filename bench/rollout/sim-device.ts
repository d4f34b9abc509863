/**
 * One simulated device of the rollout bench: the agent's own MQTT link (credentials, presence,
 * last will, desired subscription), its own bundle fetcher and store (spread start, Range
 * resume, sha256 verification), and a reported state as the agent publishes it. It runs no
 * model: the bench measures delivery, not inference.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { type BundleRef, compile, Desired, fleetRoutes, type Reported, topics } from "@kensa/contracts";
import { Logger } from "../../apps/agent/src/logger.js";
import { BundleFetcher } from "../../apps/agent/src/updates/bundle-fetcher.js";
import { BundleStore } from "../../apps/agent/src/updates/bundle-store.js";
import { MqttLink } from "../../apps/agent/src/uplink/mqtt-link.js";
import { deviceArch } from "../../apps/agent/src/uplink/state-reporter.js";

const checkDesired = compile(Desired);
/** models come from the blob route (`/…/blobs/<sha256>`); bundle manifests from the bundle route */
const BLOB_ROUTE_PREFIX = fleetRoutes.getBlob.path.split(":")[0]!;

export interface SimDeviceSpec {
  id: string;
  secret: string;
}

/** What one device did during the rollout (epoch ms). */
export interface DeviceResult {
  id: string;
  /** the desired state naming the new bundle arrived */
  desiredAt: number | null;
  /** the window the hub spread the start over (ms) */
  spreadMs: number | null;
  /** its first HTTP request for the bundle (after its spread wait) */
  startedAt: number | null;
  /** bundle and model verified and stored */
  verifiedAt: number | null;
  /** the broker acknowledged the report naming the new bundle */
  reportedAt: number | null;
  /** the device's connection was cut mid-model on its first try */
  cut: boolean;
  /** model bytes received over every try (a cut device's: counted as they arrive) */
  modelBytesReceived: number;
  /** where the resumed request started (Range), for a cut device */
  resumedFrom: number | null;
  requests: number;
  /** installs that failed and were tried again (each after RETRY_MS) */
  retries: number;
  /** the last failure's message */
  error?: string;
}

/**
 * ms before a simulated device tries a failed install again. An agent tries again when the
 * retained desired state is delivered anew (its next reconnect); the simulator does not wait
 * for one, so a rollout under overload still ends and its failures are counted.
 */
const RETRY_MS = 5000;

export interface SimDeviceOptions {
  mqttUrl: string;
  hubUrl: string;
  /** the device's data dir (its bundle store) */
  dir: string;
  /** cut the first model download after this fraction of the model (a dropped connection) */
  cutAt?: number;
}

const log = new Logger("error");

export class SimulatedDevice {
  readonly #spec: SimDeviceSpec;
  readonly #o: SimDeviceOptions;
  readonly #link: MqttLink;
  readonly #store: BundleStore;
  readonly #fetcher: BundleFetcher;
  #applied = -1;
  #reportedBundle: { sha256: string; modelVersionId: string } | null = null;
  #cutDone = false;
  #closed = false;
  readonly result: DeviceResult;
  #firstDesired: Promise<void>;

  constructor(spec: SimDeviceSpec, o: SimDeviceOptions) {
    this.#spec = spec;
    this.#o = o;
    this.result = {
      id: spec.id,
      desiredAt: null,
      spreadMs: null,
      startedAt: null,
      verifiedAt: null,
      reportedAt: null,
      cut: false,
      modelBytesReceived: 0,
      resumedFrom: null,
      requests: 0,
      retries: 0,
    };
    this.#store = new BundleStore(join(o.dir, "bundles"));
    this.#fetcher = new BundleFetcher({
      deviceId: spec.id,
      secret: spec.secret,
      hubUrl: o.hubUrl,
      store: this.#store,
      fetch: this.#fetch,
      downloadRetryBaseMs: 200,
    });
    this.#link = new MqttLink({
      url: o.mqttUrl,
      deviceId: spec.id,
      secret: spec.secret,
      agentVersion: "rollout-bench",
      logger: log,
    });
    this.#firstDesired = new Promise((resolve) => {
      this.#link.once("desired", () => resolve());
    });
    this.#link.on("desired", (payload) => void this.#onDesired(payload));
    this.#link.on("connect", () => this.#report());
  }

  /** Connects; resolves once the retained desired state (from enrollment) has arrived. */
  async start(): Promise<void> {
    await this.#store.reap();
    this.#link.start();
    await this.#firstDesired;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#link.close(500);
  }

  async #onDesired(payload: Buffer): Promise<void> {
    let value: unknown;
    try {
      value = JSON.parse(payload.toString("utf8"));
    } catch {
      return;
    }
    if (!checkDesired.check(value) || value.rev <= this.#applied) return;
    this.#applied = value.rev;
    const ref = value.pipelines.find((p) => p.id === "default")?.bundle ?? null;
    if (!ref || ref.sha256 === this.#reportedBundle?.sha256) return this.#report();
    this.result.desiredAt = Date.now();
    this.result.spreadMs = ref.spreadMs ?? 0;
    await this.#install(ref);
  }

  async #install(ref: BundleRef): Promise<void> {
    try {
      const fetched = await this.#fetcher.fetch(ref, new AbortController().signal, log);
      this.result.verifiedAt = Date.now();
      this.#reportedBundle = { sha256: ref.sha256, modelVersionId: fetched.manifest.modelVersionId };
      await this.#report();
      this.result.reportedAt = Date.now();
      // the bench keeps no 10 MB per device: the bundle has been verified and reported
      await rm(join(this.#o.dir, "bundles", ref.sha256), { recursive: true, force: true });
    } catch (err) {
      this.result.error = (err as Error).message;
      if (this.#closed) return;
      this.result.retries++;
      setTimeout(() => void this.#install(ref), RETRY_MS);
    }
  }

  #report(): Promise<void> {
    const body: Reported = {
      v: 1,
      ts: new Date().toISOString(),
      agentVersion: "rollout-bench",
      arch: deviceArch(),
      platform: process.platform,
      desiredRev: this.#applied,
      pipelines: [{ id: "default", status: this.#reportedBundle ? "loaded" : "idle", bundle: this.#reportedBundle }],
      sources: [],
    };
    return new Promise((resolve) => {
      this.#link.publish(topics.reported(this.#spec.id), JSON.stringify(body), { qos: 1 }, () => resolve());
    });
  }

  /**
   * The fetch the device's downloads go through: counts requests and, for a device picked to
   * be cut, drops its first model transfer part-way (the body errors and the connection is
   * closed, as when a link goes down), so the fetcher's resume is what gets measured.
   */
  readonly #fetch: typeof fetch = async (input, init) => {
    const r = this.result;
    r.requests++;
    r.startedAt ??= Date.now();
    const url = String(input instanceof Request ? input.url : input);
    const res = await fetch(input, init);
    const isModel = url.includes(BLOB_ROUTE_PREFIX);
    if (!isModel || !res.body) return res;
    const range = new Headers(init?.headers).get("range");
    if (range && res.status === 206) r.resumedFrom = Number(/bytes=(\d+)-/.exec(range)?.[1] ?? 0);
    const cutAt = this.#o.cutAt;
    if (cutAt === undefined) {
      r.modelBytesReceived += Number(res.headers.get("content-length") ?? 0);
      return res;
    }
    const total = Number(res.headers.get("content-length") ?? 0);
    const cutAfter = this.#cutDone ? Number.POSITIVE_INFINITY : Math.floor(total * cutAt);
    let seen = 0;
    const meter = new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, ctl) => {
        seen += chunk.byteLength;
        r.modelBytesReceived += chunk.byteLength;
        if (seen >= cutAfter && !this.#cutDone) {
          this.#cutDone = true;
          r.cut = true;
          ctl.error(new Error("connection cut by the bench"));
          return;
        }
        ctl.enqueue(chunk);
      },
    });
    return new Response(res.body.pipeThrough(meter), {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
}
