import { readFileSync } from "node:fs";
import type {
  Champion,
  CreateDeployment,
  CreatedSnapshot,
  CreateProject,
  CreateRun,
  CreateSnapshot,
  CreateVerdict,
  DatasetImport,
  DatasetStats,
  Decide,
  DecideReply,
  Deployment,
  Device,
  EnrollDevice,
  EnrolledDevice,
  ErrorReply,
  Evaluation,
  ExportQuery,
  GateReport,
  HubStats,
  ImportOptions,
  Incident,
  LabelingQueue,
  ModelDetails,
  ModelManifest,
  ModelVersion,
  Project,
  Sample,
  Snapshot,
  SnapshotDiff,
  TrainingRun,
  TrainingSettings,
  UpdateTrainingSettings,
  Verdict,
} from "@kensa/contracts";
import { type ErrorCode, errorCatalog, KensaError } from "@kensa/contracts";

/** A typed client of the hub's HTTP API; shapes come only from the contracts. */
export class HubClient {
  readonly baseUrl: string;
  #token: string;

  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#token = token;
  }

  async #call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const init: RequestInit & { duplex?: "half" } = {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...headers },
    };
    if (body instanceof FormData || body instanceof Blob) init.body = body;
    else if (body instanceof ReadableStream) {
      init.body = body;
      init.duplex = "half"; // a streamed upload (Node's fetch needs this for stream bodies)
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/api/v1${path}`, init);
    } catch (err) {
      throw new Error(`cannot reach the hub at ${this.baseUrl}: ${(err as Error).message}`);
    }
    const text = await res.text();
    const json: unknown = text ? JSON.parse(text) : null;
    if (!res.ok) {
      const e = (json as ErrorReply | null)?.error;
      const code = (e?.code && e.code in errorCatalog ? e.code : "KENSA_ERR_INTERNAL") as ErrorCode;
      throw new KensaError(code, e?.message ?? `${method} ${path} → HTTP ${res.status}`, e?.details);
    }
    return json as T;
  }

  createProject(
    p: Partial<CreateProject> & Pick<CreateProject, "slug" | "name" | "task" | "labels">,
  ): Promise<Project> {
    return this.#call("POST", "/projects", p);
  }
  listProjects(): Promise<{ items: Project[] }> {
    return this.#call("GET", "/projects");
  }
  enrollDevice(d: Partial<EnrollDevice> & Pick<EnrollDevice, "projectId">): Promise<EnrolledDevice> {
    return this.#call("POST", "/devices", d);
  }
  listDevices(): Promise<{ items: Device[] }> {
    return this.#call("GET", "/devices");
  }
  pushModel(projectId: string, onnx: Uint8Array, manifest: ModelManifest, name = "model.onnx"): Promise<ModelVersion> {
    const form = new FormData();
    form.set("projectId", projectId);
    form.set("manifest", JSON.stringify(manifest));
    form.set("model", new Blob([onnx as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }), name);
    return this.#call("POST", "/models", form);
  }
  listModels(projectId?: string): Promise<{ items: ModelVersion[] }> {
    return this.#call("GET", `/models${projectId ? `?projectId=${encodeURIComponent(projectId)}` : ""}`);
  }
  deploy(d: Partial<CreateDeployment> & Pick<CreateDeployment, "modelVersionId">): Promise<Deployment> {
    return this.#call("POST", "/deployments", d);
  }
  listIncidents(q: { status?: string; projectId?: string; limit?: number } = {}): Promise<{ items: Incident[] }> {
    const qs = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return this.#call("GET", `/incidents${qs ? `?${qs}` : ""}`);
  }
  verdict(incidentId: string, v: CreateVerdict): Promise<Verdict> {
    return this.#call("POST", `/incidents/${encodeURIComponent(incidentId)}/verdict`, v);
  }
  stats(): Promise<HubStats> {
    return this.#call("GET", "/stats");
  }

  /** Uploads a dataset archive; the hub answers at once with the running import. */
  importDataset(
    projectId: string,
    archive: ReadableStream<Uint8Array>,
    options: Partial<ImportOptions> & Pick<ImportOptions, "format">,
  ): Promise<DatasetImport> {
    const qs = new URLSearchParams(
      Object.entries(options)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]): [string, string] => [k, String(v)]),
    );
    return this.#call("POST", `/projects/${encodeURIComponent(projectId)}/imports?${qs}`, archive, {
      "content-type": "application/octet-stream",
    });
  }
  getImport(id: string): Promise<DatasetImport> {
    return this.#call("GET", `/imports/${encodeURIComponent(id)}`);
  }
  /** The export archive as a response whose body streams. */
  async exportDataset(projectId: string, q: ExportQuery): Promise<Response> {
    const qs = new URLSearchParams(
      Object.entries(q)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]): [string, string] => [k, String(v)]),
    );
    const res = await fetch(`${this.baseUrl}/api/v1/projects/${encodeURIComponent(projectId)}/export?${qs}`, {
      headers: { authorization: `Bearer ${this.#token}` },
    }).catch((err: Error) => {
      throw new Error(`cannot reach the hub at ${this.baseUrl}: ${err.message}`);
    });
    if (!res.ok) {
      const e = ((await res.json().catch(() => null)) as ErrorReply | null)?.error;
      const code = (e?.code && e.code in errorCatalog ? e.code : "KENSA_ERR_INTERNAL") as ErrorCode;
      throw new KensaError(code, e?.message ?? `export → HTTP ${res.status}`, e?.details);
    }
    return res;
  }
  createSnapshot(projectId: string, body: Partial<CreateSnapshot>): Promise<CreatedSnapshot> {
    return this.#call("POST", `/projects/${encodeURIComponent(projectId)}/snapshots`, body);
  }
  getSnapshot(id: string): Promise<Snapshot> {
    return this.#call("GET", `/snapshots/${encodeURIComponent(id)}`);
  }
  listSnapshots(projectId: string): Promise<{ items: Snapshot[] }> {
    return this.#call("GET", `/projects/${encodeURIComponent(projectId)}/snapshots`);
  }
  diffSnapshots(from: string, to: string): Promise<SnapshotDiff> {
    return this.#call("GET", `/snapshots/${encodeURIComponent(from)}/diff/${encodeURIComponent(to)}`);
  }
  datasetStats(projectId: string): Promise<DatasetStats> {
    return this.#call("GET", `/projects/${encodeURIComponent(projectId)}/dataset-stats`);
  }
  labelingQueue(projectId: string, limit = 10): Promise<LabelingQueue> {
    return this.#call("GET", `/projects/${encodeURIComponent(projectId)}/labeling-queue?limit=${limit}`);
  }

  /** Uploads an image as a sample, labeled with `classes` when given. */
  uploadSample(
    projectId: string,
    image: Uint8Array,
    q: { classes?: string[]; source?: "upload" | "synthetic"; by?: string; contentType?: string } = {},
  ): Promise<Sample> {
    const qs = new URLSearchParams({ source: q.source ?? "upload" });
    if (q.classes?.length) qs.set("classes", q.classes.join(","));
    if (q.by) qs.set("by", q.by);
    return this.#call(
      "POST",
      `/projects/${encodeURIComponent(projectId)}/samples?${qs}`,
      new Blob([image as Uint8Array<ArrayBuffer>]),
      {
        "content-type": q.contentType ?? "image/jpeg",
      },
    );
  }

  // ---- training and the registry ------------------------------------------------------
  createRun(projectId: string, body: Partial<CreateRun>): Promise<TrainingRun> {
    return this.#call("POST", `/projects/${encodeURIComponent(projectId)}/runs`, body);
  }
  getRun(id: string): Promise<TrainingRun> {
    return this.#call("GET", `/runs/${encodeURIComponent(id)}`);
  }
  listRuns(projectId: string): Promise<{ items: TrainingRun[] }> {
    return this.#call("GET", `/projects/${encodeURIComponent(projectId)}/runs`);
  }
  cancelRun(id: string, by?: string): Promise<TrainingRun> {
    return this.#call("POST", `/runs/${encodeURIComponent(id)}/cancel`, by ? { by } : {});
  }
  async runLog(id: string): Promise<string> {
    const res = await fetch(`${this.baseUrl}/api/v1/runs/${encodeURIComponent(id)}/log`, {
      headers: { authorization: `Bearer ${this.#token}` },
    });
    return res.ok ? res.text() : "";
  }
  trainingSettings(projectId: string): Promise<TrainingSettings> {
    return this.#call("GET", `/projects/${encodeURIComponent(projectId)}/training-settings`);
  }
  updateTrainingSettings(projectId: string, patch: UpdateTrainingSettings): Promise<TrainingSettings> {
    return this.#call("PUT", `/projects/${encodeURIComponent(projectId)}/training-settings`, patch);
  }
  getModel(id: string): Promise<ModelVersion> {
    return this.#call("GET", `/models/${encodeURIComponent(id)}`);
  }
  modelDetails(id: string): Promise<ModelDetails> {
    return this.#call("GET", `/models/${encodeURIComponent(id)}/details`);
  }
  /** the model's gate report, or null while it has none */
  async gateReport(id: string): Promise<GateReport | null> {
    try {
      return await this.#call<GateReport>("GET", `/models/${encodeURIComponent(id)}/gate`);
    } catch (err) {
      if (err instanceof KensaError && err.code === "KENSA_ERR_GATE_NOT_FOUND") return null;
      throw err;
    }
  }
  requestGate(id: string, snapshotId?: string): Promise<{ jobId: string }> {
    return this.#call("POST", `/models/${encodeURIComponent(id)}/gate`, snapshotId ? { snapshotId } : {});
  }
  evaluate(id: string, snapshotId?: string): Promise<Evaluation> {
    return this.#call("POST", `/models/${encodeURIComponent(id)}/evaluations`, snapshotId ? { snapshotId } : {});
  }
  decide(
    id: string,
    action: "approve" | "reject" | "archive",
    body: Partial<Decide> & Pick<Decide, "by" | "reason">,
  ): Promise<DecideReply> {
    return this.#call("POST", `/models/${encodeURIComponent(id)}/${action}`, body);
  }
  async modelCard(id: string): Promise<string> {
    const res = await fetch(`${this.baseUrl}/api/v1/models/${encodeURIComponent(id)}/card`, {
      headers: { authorization: `Bearer ${this.#token}` },
    });
    if (!res.ok) {
      const e = ((await res.json().catch(() => null)) as ErrorReply | null)?.error;
      const code = (e?.code && e.code in errorCatalog ? e.code : "KENSA_ERR_INTERNAL") as ErrorCode;
      throw new KensaError(code, e?.message ?? `card → HTTP ${res.status}`);
    }
    return res.text();
  }
  champion(projectId: string): Promise<Champion> {
    return this.#call("GET", `/projects/${encodeURIComponent(projectId)}/champion`);
  }
}

/** Where the CLI finds the hub: flags, then env, then the local hub's defaults. */
export function hubClientFrom(opts: { hub?: string; token?: string; dataDir?: string }): HubClient {
  const url = opts.hub ?? process.env.KENSA_HUB_URL ?? "http://127.0.0.1:8080";
  let token = opts.token ?? process.env.KENSA_ADMIN_TOKEN;
  if (!token) {
    const file = `${opts.dataDir ?? ".kensa/hub"}/admin-token`;
    try {
      token = readFileSync(file, "utf8").trim();
    } catch {
      throw new Error(`no admin token: pass --token, set KENSA_ADMIN_TOKEN, or run beside a hub whose ${file} exists`);
    }
  }
  return new HubClient(url, token);
}
