import {
  type BodyOf,
  type ErrorCode,
  errorCatalog,
  federationRoutes,
  KensaError,
  type QueryOf,
  queryString,
  type ReplyOf,
  type RouteSpec,
  routePath,
} from "@kensa/contracts";

/** A failure to reach central at all (refused, reset, timed out): the uplink is down. */
export class UplinkDown extends Error {
  override name = "UplinkDown";
}

/**
 * What a site hub calls on its central hub, with the site token. Every call is a route of the
 * federation table; a network failure is `UplinkDown`, an answer with an error is a KensaError
 * with central's code (or KENSA_ERR_INTERNAL for a reply without one, e.g. a proxy's page).
 */
export class CentralClient {
  #base: string;
  #token: string;
  #siteId: string;
  #timeoutMs: number;
  #closing = new AbortController();

  constructor(opts: { url: string; token: string; siteId: string; timeoutMs: number }) {
    this.#base = opts.url.replace(/\/+$/, "");
    this.#token = opts.token;
    this.#siteId = opts.siteId;
    this.#timeoutMs = opts.timeoutMs;
  }

  /** aborts every request in flight, and every later one (the hub is stopping) */
  abort(): void {
    this.#closing.abort();
  }

  get url(): string {
    return this.#base;
  }

  pushIncidents(body: BodyOf<typeof federationRoutes.pushIncidents>) {
    return this.#json(federationRoutes.pushIncidents, {}, undefined, body);
  }

  pushVerdicts(body: BodyOf<typeof federationRoutes.pushVerdicts>) {
    return this.#json(federationRoutes.pushVerdicts, {}, undefined, body);
  }

  pushSamples(body: BodyOf<typeof federationRoutes.pushSamples>) {
    return this.#json(federationRoutes.pushSamples, {}, undefined, body);
  }

  async pushField(body: BodyOf<typeof federationRoutes.pushField>): Promise<void> {
    await this.#send(federationRoutes.pushField, {}, undefined, { json: body });
  }

  async pushFleet(body: BodyOf<typeof federationRoutes.pushFleet>): Promise<void> {
    await this.#send(federationRoutes.pushFleet, {}, undefined, { json: body });
  }

  pushFrame(sha256: string, bytes: Uint8Array) {
    return this.#send(federationRoutes.pushFrame, { sha256 }, undefined, { bytes }).then(
      (res) => res.json() as Promise<ReplyOf<typeof federationRoutes.pushFrame>>,
    );
  }

  models(query: Partial<QueryOf<typeof federationRoutes.models>>) {
    return this.#json(federationRoutes.models, {}, query, undefined);
  }

  rolloutOrders(query: Partial<QueryOf<typeof federationRoutes.rolloutOrders>>) {
    return this.#json(federationRoutes.rolloutOrders, {}, query, undefined);
  }

  pushRollouts(body: BodyOf<typeof federationRoutes.pushRollouts>) {
    return this.#json(federationRoutes.pushRollouts, {}, undefined, body);
  }

  rolloutCommands(query: Partial<QueryOf<typeof federationRoutes.rolloutCommands>>) {
    return this.#json(federationRoutes.rolloutCommands, {}, query, undefined);
  }

  pushRolloutCommandResults(body: BodyOf<typeof federationRoutes.pushRolloutCommandResults>) {
    return this.#json(federationRoutes.pushRolloutCommandResults, {}, undefined, body);
  }

  /** the model's bytes (the whole file: models are tens of MB at most) */
  async modelFile(modelId: string): Promise<Uint8Array> {
    const res = await this.#send(federationRoutes.modelFile, { modelId }, undefined, {});
    return new Uint8Array(await res.arrayBuffer());
  }

  async #json<R extends RouteSpec>(
    spec: R,
    params: Record<string, string>,
    query: Record<string, unknown> | undefined,
    body: unknown,
  ): Promise<ReplyOf<R>> {
    const res = await this.#send(spec, params, query, body === undefined ? {} : { json: body });
    return (await res.json()) as ReplyOf<R>;
  }

  async #send(
    spec: RouteSpec,
    params: Record<string, string>,
    query: Record<string, unknown> | undefined,
    body: { json?: unknown; bytes?: Uint8Array },
  ): Promise<Response> {
    const url = `${this.#base}${routePath(spec.path, { id: this.#siteId, ...params })}${queryString(query)}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: "application/json" };
    const init: RequestInit = {
      method: spec.method,
      headers,
      signal: AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), this.#closing.signal]),
    };
    if (body.json !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body.json);
    } else if (body.bytes) {
      headers["content-type"] = "application/octet-stream";
      init.body = body.bytes as BodyInit;
    }
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new UplinkDown(`cannot reach central at ${this.#base}: ${cause ?? (err as Error).message}`);
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => "");
    // a gateway between site and central answering for a central it cannot reach
    if (res.status === 502 || res.status === 503 || res.status === 504) {
      throw new UplinkDown(`central at ${this.#base} answered ${res.status} for ${spec.method} ${spec.path}`);
    }
    let code: string | undefined;
    let message = `${spec.method} ${spec.path} → HTTP ${res.status}`;
    try {
      const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      code = e?.code;
      message = e?.message ?? message;
    } catch {
      // not JSON: the generic message above
    }
    const known = code && code in errorCatalog ? (code as ErrorCode) : "KENSA_ERR_INTERNAL";
    throw new KensaError(known, `central: ${message}`);
  }
}
